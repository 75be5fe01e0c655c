"""`rustok-search serve` keeps its children running and stops them all on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from core_write.settings import Settings
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def children(pid: int) -> dict[int, str]:
    """pid -> role of the direct children of `pid` (read from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and len(cmdline) > 3:
            found[int(entry.name)] = cmdline[3].decode()
    return found


@pytest.mark.slow
async def test_serve_restarts_a_dead_child_and_stops_cleanly(
    settings: Settings, tmp_path: Path
) -> None:
    env = dict(os.environ, DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url,
               RUSTOK_STREAM_PREFIX=settings.stream_prefix, INDEXER_METRICS_PORT="0",
               RELAY_METRICS_PORT="0",
               TANTIVY_DIR=str(tmp_path), RUSTOK_LOG_LEVEL="WARNING")
    serve = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rustok_search.cli", "serve", "--roles", "relay,indexer",
        cwd=ROOT, env=env)
    try:
        async def both_running() -> bool:
            return sorted(children(serve.pid).values()) == ["indexer", "relay"]

        await wait_until(both_running, what="relay and indexer to start")
        relay_pid = next(p for p, role in children(serve.pid).items() if role == "relay")
        os.kill(relay_pid, signal.SIGKILL)

        async def restarted() -> bool:
            relays = [p for p, role in children(serve.pid).items() if role == "relay"]
            return bool(relays) and relays[0] != relay_pid

        await wait_until(restarted, what="the relay to be restarted")
        serve.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(serve.wait(), timeout=30) == 0
        assert children(serve.pid) == {}
    finally:
        if serve.returncode is None:
            serve.kill()
            await serve.wait()
