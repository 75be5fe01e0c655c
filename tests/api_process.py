"""A real `rustok-search api` process for the tests that need one (shutdown, protocol errors,
the schema fuzz run): started on a port the OS picks (API_PORT=0), found from its start-up
log line; its stderr (JSON lines) is kept for assertions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core_write.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
START_SECONDS = 30.0


@dataclass
class ApiProcess:
    proc: asyncio.subprocess.Process
    port: int = 0
    logs: list[dict[str, Any]] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _read(self, started: asyncio.Future[int]) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            try:
                entry = json.loads(raw)
            except ValueError:
                entry = {"msg": raw.decode(errors="replace")}
            self.logs.append(entry)
            if entry.get("action") == "start" and "port" in entry and not started.done():
                started.set_result(int(entry["port"]))
        if not started.done():
            started.set_exception(AssertionError(f"the API exited: {self.logs[-5:]}"))


def api_env(settings: Settings, **overrides: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url,
               RUSTOK_STREAM_PREFIX=settings.stream_prefix, API_HOST="127.0.0.1",
               API_PORT="0", RUSTOK_LOG_LEVEL="INFO", SEARCH_BACKEND="postgres")
    env.update(overrides)
    return env


@contextlib.asynccontextmanager
async def api_process(settings: Settings, **env: str) -> AsyncIterator[ApiProcess]:
    """`rustok-search api` with `settings` plus `env`; stopped with SIGTERM (then SIGKILL)
    at exit if the test left it running."""
    command = Path(sys.executable).with_name("rustok-search")  # the installed entry point
    proc = await asyncio.create_subprocess_exec(
        str(command), "api", cwd=ROOT, env=api_env(settings, **env),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    api = ApiProcess(proc)
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    api._reader = asyncio.create_task(api._read(started))
    try:
        api.port = await asyncio.wait_for(started, START_SECONDS)
        yield api
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await api._reader
