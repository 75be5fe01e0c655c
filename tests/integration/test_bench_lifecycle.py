"""A bench's child processes end: SIGTERM first, SIGKILL for one that ignores it."""

from __future__ import annotations

import asyncio
import signal
import sys

from bench.lifecycle import stop_process

IGNORES_SIGTERM = ("import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                   "print('ready', flush=True); time.sleep(60)")


async def _child(code: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code,
                                                stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), timeout=30) == b"ready\n"
    return proc


async def test_a_child_that_ignores_sigterm_is_killed_after_its_grace() -> None:
    proc = await _child(IGNORES_SIGTERM)
    assert await stop_process(proc, grace=0.5) == -signal.SIGKILL


async def test_a_child_stops_on_sigterm_and_a_stopped_one_is_left_alone() -> None:
    proc = await _child("import time; print('ready', flush=True); time.sleep(60)")
    assert await stop_process(proc, grace=30) == -signal.SIGTERM
    assert await stop_process(proc, grace=30) == -signal.SIGTERM  # already ended
