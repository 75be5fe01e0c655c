"""Convergence under chaos: a relay and three indexer processes, paused at random (real
delays; long pauses make the others reclaim their entries: forced redeliveries) and one
SIGKILLed mid-run and restarted, while writers commit a few thousand random changes (one of
them in plain SQL, seen only by the capture triggers). Once the writes stop and the pipeline
drains, verify finds no drift in any backend."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from core_write.services import users
from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer.consumer import GROUP
from indexer.engine_queue import backlog
from indexer.engines import engine_readers
from indexer.model import DOC_TYPES
from indexer.verify import verify_engine, verify_postgres
from rustok_search import demo_writer as demo
from tests.builders import FAST_HASHER
from tests.random_writes import RandomWriter, SqlWriter
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
LOG = Path(os.environ.get("CHAOS_TEST_LOG", "/tmp/rustok-chaos-test.log"))


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "hasher", FAST_HASHER)


class Processes:
    def __init__(self, settings: Settings, engines: str, tantivy_dir: Path) -> None:
        self.env = dict(os.environ)
        self.env.update({
            "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
            "RUSTOK_STREAM_PREFIX": settings.stream_prefix, "RELAY_POLL_INTERVAL": "0.1",
            "RELAY_ACK_SYNC_INTERVAL": "0.2", "INDEXER_CLAIM_IDLE_MS": "400",
            "INDEXER_METRICS_PORT": "0", "RELAY_METRICS_PORT": "0", "INDEXER_BATCH_SIZE": "50",
            "RUSTOK_ENGINES": engines, "TANTIVY_DIR": str(tantivy_dir),
            "RUSTOK_LOG_LEVEL": "WARNING",
        })
        self.procs: dict[str, asyncio.subprocess.Process] = {}

    async def start(self, name: str, command: str) -> None:
        env = dict(self.env, INDEXER_CONSUMER_NAME=name)
        self.procs[name] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "rustok_search.cli", command, cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=LOG.open("ab"))  # noqa: ASYNC230

    def alive(self, name: str) -> bool:
        return self.procs[name].returncode is None

    async def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        codes = {name: await asyncio.wait_for(proc.wait(), timeout=30)
                 for name, proc in self.procs.items()}
        # SIGTERM finishes the batch in hand and exits cleanly
        assert codes == dict.fromkeys(self.procs, 0), codes


async def drained(pool: asyncpg.Pool, redis: aioredis.Redis, settings: Settings) -> bool:
    if await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
        return False
    groups = await redis.xinfo_groups(settings.stream)
    group = next(g for g in groups if g["name"] == GROUP.encode())
    if group["pending"] or group.get("lag"):
        return False
    return not any((await backlog(pool)).values())


async def run_chaos(core: CoreWrite, pool: asyncpg.Pool, redis: aioredis.Redis,
                    settings: Settings, tmp_path: Path, engines: str) -> None:
    rng = random.Random(7)
    await demo.load_demo(pool, demo.DemoSpec(products=120, nodes=60, tenants=3, seed=11))
    procs = Processes(settings, engines, tmp_path / "tantivy")
    await procs.start("relay", "relay")
    for i in range(3):
        await procs.start(f"indexer-{i}", "indexer")
    writers = [RandomWriter(core, pool, random.Random(i)) for i in range(4)]
    writers.append(SqlWriter(core, pool, random.Random(4)))
    writing = asyncio.gather(*(_steps(w, 500) for w in writers))
    killed = False
    try:
        while not writing.done():
            await asyncio.wait({writing}, timeout=rng.uniform(0.1, 0.4))
            victim = f"indexer-{rng.randrange(3)}"
            for name in procs.procs:
                assert name == victim or procs.alive(name), f"{name} died, see {LOG}"
            if not killed and sum(w.writes for w in writers) > 800:
                procs.procs[victim].send_signal(signal.SIGKILL)  # mid-batch, at a random point
                await procs.procs[victim].wait()
                await procs.start(victim, "indexer")
                killed = True
                continue
            procs.procs[victim].send_signal(signal.SIGSTOP)  # a real delay, maybe a reclaim
            await asyncio.sleep(rng.uniform(0.05, 0.8))  # the pause length is the chaos itself
            procs.procs[victim].send_signal(signal.SIGCONT)
        await writing
        assert killed and sum(w.writes for w in writers) >= 1500 and writers[-1].writes > 300

        async def settled() -> bool:
            return await drained(pool, redis, settings)

        await wait_until(settled, timeout=120, interval=0.2, what="the pipeline to drain")
    finally:
        await procs.stop_all()
    for doc_type in DOC_TYPES:
        drift = await verify_postgres(pool, doc_type)
        assert drift.total == 0, drift.summary()
    if engines:
        tenant_ids = [r["id"] for r in await pool.fetch("SELECT id FROM tenants")]
        configured = settings.model_copy(update={
            "engines": (engines,), "tantivy_dir": str(tmp_path / "tantivy")})
        async with engine_readers(configured, redis) as readers:
            assert [r.name for r in readers] == [engines]
            for reader in readers:
                for doc_type in DOC_TYPES:
                    drift = await verify_engine(pool, reader, doc_type, tenant_ids)
                    assert drift.total == 0, drift.summary()


async def _steps(writer: RandomWriter, count: int) -> None:
    for _ in range(count):
        await writer.step()


@pytest.mark.slow
async def test_three_indexers_under_chaos_converge(
    core: CoreWrite, pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings,
    tmp_path: Path,
) -> None:
    await run_chaos(core, pool, redis_client, settings, tmp_path, engines="tantivy")


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("MEILISEARCH_URL"),
                    reason="MEILISEARCH_URL is not set: no Meilisearch server to converge into "
                           "(see README, Tests)")
async def test_three_indexers_under_chaos_converge_in_meilisearch(
    core: CoreWrite, pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings,
    tmp_path: Path,
) -> None:
    await run_chaos(core, pool, redis_client, settings, tmp_path, engines="meilisearch")
