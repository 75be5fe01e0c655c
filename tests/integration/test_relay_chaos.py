"""The relay as a real process, killed with SIGKILL at random points and restarted while
writers commit, with Redis losing this deployment's data mid-run: a consumer that drops
duplicates ends with every committed event exactly once, in seq order per aggregate."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import defaultdict
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from core_write.services import tenants
from core_write.settings import Settings
from core_write.unit import CoreWrite
from tests.builders import make_tenant
from tests.stream_consumer import DedupConsumer
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
LOG = Path(os.environ.get("RELAY_TEST_LOG", "/tmp/rustok-relay-test.log"))


def _relay_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
        "RUSTOK_STREAM_PREFIX": settings.stream_prefix, "RELAY_POLL_INTERVAL": "0.1",
        "RELAY_ACK_SYNC_INTERVAL": "0.1", "RELAY_BATCH_SIZE": "20",
        "RUSTOK_LOG_LEVEL": "WARNING", "RELAY_METRICS_PORT": "0",
    })
    return env


async def _spawn(settings: Settings) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rustok_search.cli", "relay", cwd=ROOT, env=_relay_env(settings),
        stdout=asyncio.subprocess.DEVNULL, stderr=LOG.open("ab"),  # noqa: ASYNC230
    )


async def _published(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"))


@pytest.mark.slow
async def test_sigkill_and_redis_loss_lose_nothing(
    core: CoreWrite, pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings,
    stream_prefix: str,
) -> None:
    rng = random.Random(20261126)
    shops = [await make_tenant(core) for _ in range(5)]
    consumer = DedupConsumer(redis_client, settings.stream)
    writing = True
    kills = 0
    flushed = False

    async def write(shop: dict[str, object]) -> None:
        # 400 writes each at least, and on until the relay has been killed three times and
        # Redis flushed (a quiet machine wrote the 400 before the third kill)
        i = 0
        while i < 400 or not (kills >= 3 and flushed) and i < 20_000:
            await core.call(tenants.update_tenant, shop["id"], {"name": f"{shop['slug']}-{i}"})
            i += 1

    async def consume() -> None:
        while writing or await consumer.poll(block_ms=20):
            await consumer.poll(count=rng.randint(1, 50), block_ms=20)

    relay = await _spawn(settings)
    consuming = asyncio.create_task(consume())
    writers = asyncio.gather(*(write(shop) for shop in shops))
    try:
        while not writers.done():
            before = await _published(pool)

            async def progressed(before: int = before) -> bool:
                return await _published(pool) > before or writers.done()

            # kill only once this incarnation is publishing, at a random point after that
            await wait_until(progressed, what="the restarted relay to publish")
            await asyncio.wait({writers}, timeout=rng.uniform(0.0, 0.15))
            assert relay.returncode is None, f"relay exited by itself, see {LOG}"
            relay.send_signal(signal.SIGKILL)
            await relay.wait()
            kills += 1
            keys = [k async for k in redis_client.scan_iter(f"{stream_prefix}:*")]
            if kills >= 3 and keys and not flushed:
                await redis_client.delete(*keys)
                flushed = True
            relay = await _spawn(settings)
        await writers
        expected = {str(r["event_id"]) for r in await pool.fetch("SELECT event_id FROM outbox")}

        async def all_seen() -> bool:
            return expected <= set(consumer.seen)

        await wait_until(all_seen, timeout=60, what="every committed event to be consumed")
    finally:
        writing = False
        relay.send_signal(signal.SIGTERM)
        await relay.wait()
        await consuming
    assert kills >= 3 and flushed
    assert set(consumer.seen) == expected
    rows = await pool.fetch("SELECT event_id, aggregate_id FROM outbox ORDER BY seq")
    by_aggregate: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_aggregate[str(row["aggregate_id"])].append(str(row["event_id"]))
    first_seen = {event_id: index for index, event_id in enumerate(consumer.order)}
    for aggregate, ids in by_aggregate.items():
        assert sorted(ids, key=first_seen.__getitem__) == ids, f"reordered for {aggregate}"


@pytest.mark.slow
async def test_relay_process_exits_cleanly_on_sigterm(
    core: CoreWrite, pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings
) -> None:
    relay = await _spawn(settings)
    await make_tenant(core)

    async def published() -> bool:
        count = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
        return bool(count == 1)

    await wait_until(published, what="the relay process to publish")
    relay.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(relay.wait(), timeout=10) == 0
