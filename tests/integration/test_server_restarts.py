"""Servers restart under us: on a private PostgreSQL cluster and a private Redis (the shared
ones are never touched), the relay, an indexer (with the Tantivy engine writer) and an API per
backend (Postgres, Tantivy) run as processes while writers commit; PostgreSQL is restarted,
then Redis (losing its data). While PostgreSQL is down searches answer 503 at once (never 500,
never a hang); while Redis is down they are still answered; every process reconnects by
itself; once both are back nothing is lost, stale or dead-lettered."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import redis.asyncio as aioredis

from bench.lifecycle import free_port
from core_write.db import create_pool
from core_write.errors import OUTAGES
from core_write.migrations import migrate
from core_write.services import users
from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer.engines import engine_readers
from indexer.verify import DOC_TYPES, verify_engine, verify_postgres
from rustok_search import demo_writer as demo
from search_api.auth import create_key
from tests.builders import FAST_HASHER, make_tenant
from tests.integration.test_convergence import drained
from tests.pipeline import Pipeline
from tests.private_servers import (
    PrivatePostgres,
    PrivateRedis,
    find_postgres_bin,
    find_redis_server,
)
from tests.random_writes import RandomWriter
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
LOG = Path(os.environ.get("RESTART_TEST_LOG", "/tmp/rustok-restart-test.log"))
PG_BIN = find_postgres_bin()
REDIS_BIN = find_redis_server()


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "hasher", FAST_HASHER)


@pytest.fixture
async def servers() -> AsyncIterator[tuple[PrivatePostgres, PrivateRedis]]:
    if isinstance(PG_BIN, str):
        pytest.skip(PG_BIN)
    if isinstance(REDIS_BIN, str):
        pytest.skip(REDIS_BIN)
    postgres, redis = PrivatePostgres(PG_BIN), PrivateRedis(REDIS_BIN)
    try:
        await asyncio.to_thread(postgres.init)
        await asyncio.to_thread(postgres.start)
        await redis.start()
        yield postgres, redis
    finally:
        await redis.destroy()
        await asyncio.to_thread(postgres.destroy)


class Writers:
    """Random writes through core_write until stopped; an outage fails a write, no more."""

    def __init__(self, pool: asyncpg.Pool, count: int) -> None:
        self.writers = [RandomWriter(CoreWrite(pool), pool, random.Random(i))
                        for i in range(count)]
        self.failed = 0
        self.stop = asyncio.Event()
        self.tasks = [asyncio.create_task(self._run(w)) for w in self.writers]

    @property
    def writes(self) -> int:
        return sum(w.writes for w in self.writers)

    async def _run(self, writer: RandomWriter) -> None:
        while not self.stop.is_set():
            try:
                await writer.step()
            except OUTAGES:
                self.failed += 1
                await asyncio.sleep(0.05)  # a server is down: pace the retries

    async def more(self, count: int) -> None:
        """Until `count` more writes have committed."""
        target = self.writes + count

        async def done() -> bool:
            return self.writes >= target

        await wait_until(done, timeout=60, what=f"{count} more writes")

    async def end(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks)


async def test_a_consumer_whose_group_vanished_recreates_it_and_goes_on(
    core: CoreWrite, pipeline: Pipeline, redis_client: aioredis.Redis, settings: Settings,
) -> None:
    from indexer.consumer import GROUP, Consumer

    # claims run every 25 ms, so one meets the missing group before a read does
    eager = settings.model_copy(update={"indexer_claim_idle_ms": 100,
                                        "indexer_consumer": "eager"})
    consumer = Consumer(pipeline.consumer.pool, redis_client, eager)
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    try:
        await make_tenant(core)
        await pipeline.relay.publish_batch()

        async def reading() -> bool:
            return any(c["name"] == b"eager" for c in
                       await redis_client.xinfo_consumers(eager.stream, GROUP))

        await wait_until(reading, what="the consumer to read")
        await redis_client.delete(eager.stream)  # what a Redis restart does to it

        async def regrouped() -> bool:
            assert not running.done(), running
            groups = await redis_client.xinfo_groups(eager.stream) \
                if await redis_client.exists(eager.stream) else []
            return any(g["name"] == GROUP.encode() for g in groups)

        await wait_until(regrouped, what="the group to be recreated")
        assert not running.done()
    finally:
        stop.set()
        await running


@pytest.mark.slow
async def test_postgres_and_redis_restart_under_writes(
    servers: tuple[PrivatePostgres, PrivateRedis], tmp_path: Path,
) -> None:
    postgres, redis_server = servers
    await migrate(postgres.dsn)
    pool = await create_pool(postgres.dsn, max_size=8)
    redis = aioredis.Redis.from_url(redis_server.url)
    settings = Settings(DATABASE_URL=postgres.dsn, REDIS_URL=redis_server.url,
                        RUSTOK_STREAM_PREFIX="restarts", TANTIVY_DIR=str(tmp_path / "tantivy"))
    ports = {"postgres": free_port(), "tantivy": free_port()}
    env = dict(os.environ, DATABASE_URL=postgres.dsn, REDIS_URL=redis_server.url,
               RUSTOK_STREAM_PREFIX="restarts", RUSTOK_ENGINES="tantivy",
               TANTIVY_DIR=str(tmp_path / "tantivy"), SEARCH_BACKEND="postgres",
               INDEXER_METRICS_PORT="0", RELAY_METRICS_PORT="0",
               RELAY_POLL_INTERVAL="0.1", RUSTOK_LOG_LEVEL="WARNING",
               INDEXER_HEARTBEAT_TTL_MS="1500", API_KEY_CACHE_SECONDS="0",
               API_REQUEST_TIMEOUT_MS="10000")  # a 503 by the request deadline is not fast
    procs: dict[str, asyncio.subprocess.Process] = {}
    writers: Writers | None = None
    http = aiohttp.ClientSession()
    try:
        await demo.load_demo(pool, demo.DemoSpec(products=40, nodes=20, tenants=2, seed=3))
        slug = await pool.fetchval("SELECT slug FROM tenants ORDER BY slug LIMIT 1")
        key, _ = await create_key(pool, slug, "search")
        roles = {"relay": ("relay", {}), "indexer": ("indexer", {}),
                 **{f"api-{backend}": ("api", {"SEARCH_BACKEND": backend,
                                               "API_PORT": str(port)})
                    for backend, port in ports.items()}}
        for role, (command, extra) in roles.items():
            procs[role] = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "rustok_search.cli", command, cwd=ROOT,
                env=dict(env, **extra), stdout=asyncio.subprocess.DEVNULL,
                stderr=LOG.open("ab"))  # noqa: ASYNC230

        async def search(backend: str) -> tuple[int, float]:
            started = time.monotonic()
            try:
                async with http.get(f"http://127.0.0.1:{ports[backend]}/v1/search/products",
                                    params={"q": "shirt"},
                                    headers={"Authorization": f"Bearer {key}"},
                                    timeout=aiohttp.ClientTimeout(total=10)) as response:
                    await response.read()
                    return response.status, time.monotonic() - started
            except aiohttp.ClientConnectionError:
                return 0, time.monotonic() - started  # the API is not listening yet

        async def answers() -> bool:
            return [(await search(backend))[0] for backend in ports] == [200, 200]

        def alive() -> None:
            for role, proc in procs.items():
                assert proc.returncode is None, f"the {role} exited by itself, see {LOG}"

        await wait_until(answers, timeout=60, what="the API to answer")
        writers = Writers(pool, 3)
        await writers.more(30)

        # PostgreSQL goes down and comes back
        await asyncio.to_thread(postgres.stop)
        for backend in [*ports, *ports]:  # API keys are looked up in PostgreSQL
            status, took = await search(backend)
            assert status == 503 and took < 3, (backend, status, took, f"see {LOG}")
        failed = writers.failed

        async def writes_fail() -> bool:
            return writers is not None and writers.failed > failed + 3

        await wait_until(writes_fail, what="writes to fail while PostgreSQL is down")
        await asyncio.sleep(2)  # the outage's length is the scenario: every daemon backs off
        await asyncio.to_thread(postgres.start)
        await wait_until(answers, timeout=30, what="searches after PostgreSQL is back")
        await writers.more(30)
        alive()

        # Redis goes down (losing every key) and comes back
        await redis_server.stop()
        for backend in [*ports, *ports]:  # neither backend needs Redis to answer
            status, took = await search(backend)
            assert status == 200 and took < 3, (backend, status, took, f"see {LOG}")
        await writers.more(30)  # writes go on: the outbox keeps them
        await redis_server.start()
        await writers.more(30)
        alive()
        await writers.end()

        async def settled() -> bool:
            return await drained(pool, redis, settings)

        await wait_until(settled, timeout=120, interval=0.2, what="the pipeline to drain")
        alive()
        assert await redis.xlen(settings.key("dlq")) == 0  # the outages poisoned nothing
        for doc_type in DOC_TYPES:
            drift = await verify_postgres(pool, doc_type)
            assert drift.total == 0, drift.summary()
        tenant_ids = [r["id"] for r in await pool.fetch("SELECT id FROM tenants")]
        async with engine_readers(settings, redis) as readers:
            for reader in readers:
                for doc_type in DOC_TYPES:
                    drift = await verify_engine(pool, reader, doc_type, tenant_ids)
                    assert drift.total == 0, drift.summary()
        assert writers.writes >= 120 and writers.failed > 0
    finally:
        if writers is not None:
            await writers.end()
        for proc in procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        codes = {role: await asyncio.wait_for(proc.wait(), timeout=30)
                 for role, proc in procs.items()}
        await http.close()
        await redis.aclose()
        await pool.close()
    assert codes == dict.fromkeys(procs, 0), codes
