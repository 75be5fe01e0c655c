"""The outbox relay: order, out-of-order commits, acknowledgements and trimming, Redis data
loss, two relays at once."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import redis.asyncio as aioredis

from core_write.services import tenants
from core_write.settings import Settings
from core_write.unit import CoreWrite, run_in_unit
from indexer.relay import Relay
from tests.builders import make_tenant
from tests.stream_consumer import DedupConsumer
from tests.waiting import wait_until


async def _outbox_ids(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT event_id FROM outbox ORDER BY seq")
    return [str(r["event_id"]) for r in rows]


async def _stream_ids(redis: aioredis.Redis, stream: str) -> list[str]:
    return [fields[b"id"].decode() for _id, fields in await redis.xrange(stream)]


async def _start(relay: Relay) -> None:
    async with relay.pool.acquire() as conn:
        await relay.recover(conn)


async def test_publishes_committed_events_in_seq_order(
    core: CoreWrite, pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings
) -> None:
    tenant = await make_tenant(core)
    for i in range(5):
        await core.call(tenants.update_tenant, tenant["id"], {"name": f"name {i}"})
    relay = Relay(pool, redis_client, settings)
    await _start(relay)
    assert await relay.publish_batch() == 6
    assert await relay.publish_batch() == 0
    assert await _stream_ids(redis_client, settings.stream) == await _outbox_ids(pool)
    entries = await redis_client.xrange(settings.stream)
    assert entries[1][1][b"type"] == b"TenantUpdated"
    assert entries[1][1][b"tenant"] == str(tenant["id"]).encode()
    unpublished = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    assert unpublished == 0


async def test_a_late_commit_with_a_lower_seq_is_not_skipped(
    core: CoreWrite, pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings
) -> None:
    relay = Relay(pool, redis_client, settings)
    await _start(relay)
    async with pool.acquire() as slow:
        tx = slow.transaction()
        await tx.start()
        early = await run_in_unit(slow, tenants.create_tenant, {"name": "slow", "slug": "slow"})
        await make_tenant(core, slug="fast")  # higher seq, commits first
        assert await relay.publish_batch() == 1
        await tx.commit()
    assert await relay.publish_batch() == 1
    published = await _stream_ids(redis_client, settings.stream)
    assert sorted(published) == sorted(await _outbox_ids(pool))
    created = [e for e in (await redis_client.xrange(settings.stream))]
    assert str(early["id"]).encode() in created[1][1][b"data"]


async def test_acknowledged_entries_are_recorded_and_trimmed_pending_ones_kept(
    core: CoreWrite, pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings
) -> None:
    relay = Relay(pool, redis_client, settings)
    await _start(relay)
    for _ in range(6):
        await make_tenant(core)
    await relay.publish_batch()
    # read 4 entries, acknowledge only the first 2: entries 3-4 stay pending, 5-6 unread
    reply = await redis_client.xreadgroup("indexer", "c1", {settings.stream: ">"}, count=4)
    read = [entry_id for entry_id, _ in reply[0][1]]
    await redis_client.xack(settings.stream, "indexer", *read[:2])
    assert await relay.sync_acks() == 2
    acked = await pool.fetch("SELECT event_id FROM outbox WHERE acked_at IS NOT NULL ORDER BY seq")
    assert [str(r["event_id"]) for r in acked] == (await _outbox_ids(pool))[:2]
    remaining = await _stream_ids(redis_client, settings.stream)
    assert remaining == (await _outbox_ids(pool))[2:]
    # acknowledging the rest lets the relay trim everything that was read, never unread ones
    await redis_client.xack(settings.stream, "indexer", *read[2:])
    assert await relay.sync_acks() == 2
    assert await _stream_ids(redis_client, settings.stream) == (await _outbox_ids(pool))[4:]


async def test_acked_rows_are_purged_after_retention(
    core: CoreWrite, pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings
) -> None:
    relay = Relay(pool, redis_client, settings.model_copy(update={"relay_retention_seconds": 0}))
    await _start(relay)
    await make_tenant(core)
    await relay.publish_batch()
    consumer = DedupConsumer(redis_client, settings.stream)
    assert await consumer.poll() == 1
    assert await relay.sync_acks() == 1
    await relay.sync_acks()
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_redis_data_loss_republishes_what_the_group_had_not_acknowledged(
    core: CoreWrite, pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings,
    stream_prefix: str,
) -> None:
    relay = Relay(pool, redis_client, settings)
    await _start(relay)
    assert relay.stats.recoveries == 0  # a deployment's first epoch is not a loss
    for _ in range(4):
        await make_tenant(core)
    await relay.publish_batch()
    consumer = DedupConsumer(redis_client, settings.stream)
    await consumer.poll(count=2)
    await relay.sync_acks()  # the first two are known to be processed
    # Redis restarts empty: every key of this deployment vanishes
    await redis_client.delete(*[k async for k in redis_client.scan_iter(f"{stream_prefix}:*")])
    for _ in range(2):
        await make_tenant(core)
    assert await relay.publish_batch() == 0  # detects the loss and starts a new epoch
    assert relay.stats.recoveries == 1
    assert await relay.publish_batch() == 4  # two unacknowledged + two new ones
    republished = await _stream_ids(redis_client, settings.stream)
    assert republished == (await _outbox_ids(pool))[2:]
    while await consumer.poll():
        pass
    assert set(consumer.seen) == set(await _outbox_ids(pool))


async def test_two_relays_neither_duplicate_nor_reorder(
    core: CoreWrite, pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings
) -> None:
    small = settings.model_copy(update={"relay_batch_size": 7})
    first, second = Relay(pool, redis_client, small), Relay(pool, redis_client, small)
    stop = asyncio.Event()
    runs = [asyncio.create_task(first.run(stop)), asyncio.create_task(second.run(stop))]
    shops = [await make_tenant(core) for _ in range(4)]

    async def write(shop: dict[str, object]) -> None:
        for i in range(25):
            await core.call(tenants.update_tenant, shop["id"], {"name": f"{shop['slug']} {i}"})

    await asyncio.gather(*(write(shop) for shop in shops))
    expected = await _outbox_ids(pool)

    async def all_published() -> bool:
        return len(await _stream_ids(redis_client, settings.stream)) >= len(expected)

    await wait_until(all_published, what="both relays to publish everything")
    stop.set()
    await asyncio.gather(*runs)
    published = await _stream_ids(redis_client, settings.stream)
    assert len(published) == len(set(published)) == len(expected)
    assert set(published) == set(expected)
    # concurrent writers commit out of seq order, so only each aggregate's order is promised
    position = {event_id: index for index, event_id in enumerate(published)}
    rows = await pool.fetch("SELECT event_id, aggregate_id FROM outbox ORDER BY seq")
    for shop in shops:
        ids = [str(r["event_id"]) for r in rows if r["aggregate_id"] == shop["id"]]
        assert sorted(ids, key=position.__getitem__) == ids
    assert first.stats.published + second.stats.published == len(expected)


async def test_relay_daemon_is_woken_by_notify(
    core: CoreWrite, pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings
) -> None:
    slow_poll = settings.model_copy(update={"relay_poll_interval": 30.0})
    relay = Relay(pool, redis_client, slow_poll)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await wait_until(lambda: _has_epoch(pool), what="relay start")
    await make_tenant(core)

    async def published() -> bool:
        return len(await _stream_ids(redis_client, settings.stream)) == 1

    await wait_until(published, timeout=5, what="NOTIFY to wake the relay")
    stop.set()
    await task


async def _has_epoch(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM relay_state"))


async def test_unknown_stream_state_is_recovered_on_start(
    core: CoreWrite, pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings
) -> None:
    await make_tenant(core)
    relay = Relay(pool, redis_client, settings)
    assert await relay.publish_batch() == 0  # no epoch yet: recovery creates the groups
    assert await relay.publish_batch() == 1
    groups = await redis_client.xinfo_groups(settings.stream)
    assert [g["name"] for g in groups] == [b"indexer"]
    assert uuid.UUID((await redis_client.get(settings.key("relay:epoch"))).decode())


async def test_backlog_gauges_follow_the_outbox(
    core: CoreWrite, pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings
) -> None:
    from indexer import metrics

    relay = Relay(pool, redis_client, settings)
    await _start(relay)
    for _ in range(3):
        await make_tenant(core)
    await relay.sync_acks()
    assert metrics.OUTBOX_BACKLOG._value.get() == 3  # noqa: SLF001 - reading the gauge
    assert metrics.OUTBOX_OLDEST_AGE._value.get() > 0  # noqa: SLF001
    await relay.publish_batch()
    await relay.sync_acks()
    assert metrics.OUTBOX_BACKLOG._value.get() == 0  # noqa: SLF001
