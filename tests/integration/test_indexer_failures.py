"""Poison events, undecodable entries, duplicates and reclaiming a dead consumer's entries."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import redis.asyncio as aioredis

from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer.consumer import GROUP, Consumer
from tests.builders import make_node, make_product, make_tenant
from tests.pipeline import Pipeline
from tests.waiting import wait_until

POISON_TRIGGER = """
CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.title = 'poison' THEN RAISE EXCEPTION 'cannot index %', NEW.product_id; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER poison BEFORE INSERT OR UPDATE ON index_products
    FOR EACH ROW EXECUTE FUNCTION poison();
"""


async def _indexed(pool: asyncpg.Pool) -> set[uuid.UUID]:
    return {r["product_id"] for r in await pool.fetch("SELECT product_id FROM index_products")}


async def test_a_poison_event_is_retried_then_dead_lettered_without_blocking_others(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, redis_client: aioredis.Redis,
    settings: Settings,
) -> None:
    consumer = pipeline.consumer
    consumer.settings = settings.model_copy(
        update={"indexer_max_deliveries": 3, "indexer_retry_backoff_ms": 10})
    await pool.execute(POISON_TRIGGER)
    shop = await make_tenant(core)
    good = [await make_product(core, shop["id"]) for _ in range(5)]
    bad = await make_product(core, shop["id"], title="poison")
    await pipeline.settle()
    assert {p["id"] for p in good} <= await _indexed(pool)
    assert bad["id"] not in await _indexed(pool)
    stop = asyncio.Event()

    async def dead_lettered() -> bool:
        await consumer.process(await consumer.read_batch(stop))
        return bool(await redis_client.xlen(settings.key("dlq")))

    await wait_until(dead_lettered, what="the poison event to reach the dead-letter stream")
    [(_, fields)] = await redis_client.xrange(settings.key("dlq"))
    assert fields[b"type"] == b"ProductCreated"
    assert b"cannot index" in fields[b"error"] and int(fields[b"deliveries"]) == 3
    assert str(bad["id"]).encode() in fields[b"data"]
    pending = await redis_client.xpending(settings.stream, GROUP)
    assert pending["pending"] == 0


async def test_undecodable_entries_are_dead_lettered_at_once(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, redis_client: aioredis.Redis,
    settings: Settings,
) -> None:
    shop = await make_tenant(core)
    await redis_client.xadd(settings.stream, {"id": "x", "type": "ProductCreated",
                                              "data": "{not json"})
    envelope = {"id": str(uuid.uuid4()), "tenant_id": str(shop["id"]),
                "timestamp": "2026-01-01T00:00:00Z",
                "event": {"type": "ProductCreated", "product_id": "nope"}}
    await redis_client.xadd(settings.stream, {"id": "y", "type": "ProductCreated",
                                              "data": json.dumps(envelope)})
    product = await make_product(core, shop["id"])
    await pipeline.settle()
    dead = await redis_client.xrange(settings.key("dlq"))
    assert len(dead) == 2
    assert b"event.ProductCreated.product_id" in dead[1][1][b"error"]
    assert product["id"] in await _indexed(pool)


async def test_duplicates_in_a_batch_are_dropped(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, redis_client: aioredis.Redis,
    settings: Settings,
) -> None:
    shop = await make_tenant(core)
    node = await make_node(core, shop["id"])
    await pipeline.relay.publish_batch()
    # the relay republishes a batch after a crash: the same events appear twice
    for _id, fields in await redis_client.xrange(settings.stream):
        await redis_client.xadd(settings.stream, fields)
    await pipeline.settle()
    assert pipeline.consumer.stats.duplicates == 2  # TenantCreated and NodeCreated
    assert await pool.fetchval("SELECT count(*) FROM index_content WHERE node_id = $1",
                               node["id"]) == 1


async def test_entries_of_a_dead_consumer_are_reclaimed(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, redis_client: aioredis.Redis,
    settings: Settings,
) -> None:
    shop = await make_tenant(core)
    product = await make_product(core, shop["id"])
    await pipeline.relay.publish_batch()
    # a consumer reads the entries and dies before acknowledging them
    await redis_client.xreadgroup(GROUP, "dead-one", {settings.stream: ">"}, count=100)
    survivor = Consumer(pool, redis_client, settings.model_copy(
        update={"indexer_claim_idle_ms": 100, "indexer_consumer": "survivor"}))
    stop = asyncio.Event()

    async def reclaimed() -> bool:
        await survivor.process(await survivor.read_batch(stop))
        return product["id"] in await _indexed(pool)

    await wait_until(reclaimed, what="the survivor to reclaim and index the entries")
    assert (await redis_client.xpending(settings.stream, GROUP))["pending"] == 0
