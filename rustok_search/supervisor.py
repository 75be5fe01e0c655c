"""`rustok-search serve`: the whole service as one supervised process group (I/O: processes).

Each role runs as its own child process (`rustok-search relay`, `indexer`, and `api` when the
search API is installed), so one crash never takes the others down: a child that exits
unexpectedly is restarted with a growing delay. SIGINT/SIGTERM stop every child with SIGTERM
(each finishes its batch in hand), and after a grace period SIGKILL whatever is left.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field

from core_write.backoff import pause

log = logging.getLogger(__name__)

GRACE_SECONDS = 20.0
PR_SET_PDEATHSIG = 1


def default_roles() -> list[str]:
    roles = ["relay", "indexer"]
    if importlib.util.find_spec("search_api.app") is not None:
        roles.append("api")
    return roles


@dataclass
class Child:
    role: str
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started: float = field(default=0.0)


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the supervisor dies (even by SIGKILL)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def _spawn(child: Child) -> None:
    # Children get their own process group: a Ctrl-C in the terminal reaches only the
    # supervisor, which then stops each child once with SIGTERM (a child signalled twice
    # exits at once, without finishing its batch).
    child.process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rustok_search.cli", child.role, env=dict(os.environ),
        process_group=0, preexec_fn=_die_with_parent)
    child.started = time.monotonic()
    log.info("started %s (pid %d)", child.role, child.process.pid,
             extra={"action": "spawn", "entity": child.role})


async def supervise(roles: list[str], stop: asyncio.Event) -> int:
    """Run `roles` until `stop`; returns the exit code for the command."""
    children = [Child(role) for role in roles]
    for child in children:
        await _spawn(child)
    while not stop.is_set():
        waits = {asyncio.create_task(c.process.wait()): c for c in children if c.process}
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*waits, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in [*waits, stopper]:
            if task not in done:
                task.cancel()
        if stop.is_set():
            break
        for task in done:
            if task is stopper:
                continue
            child = waits[task]
            code = task.result()
            # a child that ran a while before dying starts again at once; a crash loop backs off
            child.restarts = 0 if time.monotonic() - child.started > 60 else child.restarts + 1
            delay = min(30.0, 0.5 * 2 ** child.restarts)
            log.error("%s exited with %s; restarting in %.1fs", child.role, code, delay,
                      extra={"action": "restart", "entity": child.role})
            if not await pause(delay, stop):
                await _spawn(child)
    return await _stop(children)


async def _stop(children: list[Child]) -> int:
    running = [c for c in children if c.process and c.process.returncode is None]
    for child in running:
        assert child.process is not None
        child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for child in running:
        assert child.process is not None
        try:
            await asyncio.wait_for(child.process.wait(),
                                   timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            log.warning("%s did not stop in %.0fs: killing it", child.role, GRACE_SECONDS)
            child.process.kill()
            await child.process.wait()
    log.info("all processes stopped", extra={"action": "stopped"})
    return 0
