"""From a core_write call to a hit in Tantivy, through relay, consumer and follower; and the
indexer's Prometheus metrics after a batch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY, generate_latest

from core_write.services import catalog, commerce_categories
from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer.tantivy.engine import tantivy_config
from indexer.tantivy.follower import TantivyFollower
from indexer.tantivy.reader import TantivyReader
from tests.builders import make_stocked_variant, make_tenant
from tests.pipeline import Pipeline
from tests.tantivy_search import hit_ids
from tests.waiting import wait_until


@pytest.fixture
async def engine(
    pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings, tmp_path: Path,
) -> AsyncIterator[tuple[TantivyFollower, TantivyReader]]:
    config = tantivy_config(settings.model_copy(update={"tantivy_dir": str(tmp_path)}))
    async with TantivyFollower(pool, redis_client, settings, config) as follower, \
            TantivyReader(config, redis_client, settings.stream_prefix) as reader:
        yield follower, reader


async def test_a_write_becomes_a_tantivy_hit_and_a_fan_out_updates_it(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline,
    engine: tuple[TantivyFollower, TantivyReader],
) -> None:
    follower, reader = engine
    shop, other = await make_tenant(core), await make_tenant(core)
    variant = await make_stocked_variant(core, shop["id"])
    pid = variant["product_id"]
    await core.call(catalog.update_product, shop["id"], pid, {"title": "Copper kettle"})
    twin = await make_stocked_variant(core, other["id"])
    await core.call(catalog.update_product, other["id"], twin["product_id"],
                    {"title": "Copper kettle"})
    category = (await core.call(commerce_categories.create_category, shop["id"],
                                {"name": "Kitchen", "handle": "kitchen"})).value
    await core.call(commerce_categories.link_product_category, shop["id"], pid, category["id"])
    await pipeline.settle()
    await follower.drain_once()

    async def found(text: str) -> bool:
        return await hit_ids(reader, shop["id"], text) == [str(pid)]

    await wait_until(lambda: found("kettle"), timeout=5, what="the product in Tantivy")
    await core.call(commerce_categories.update_category, shop["id"], category["id"],
                    {"name": "Cookware"})
    await pipeline.settle()
    await follower.drain_once()
    await wait_until(lambda: found("cookware"), timeout=5, what="the renamed category")
    assert await hit_ids(reader, shop["id"], "kitchen") == []
    await core.call(catalog.delete_product, shop["id"], pid)
    await pipeline.settle()
    await follower.drain_once()

    async def gone() -> bool:
        return await hit_ids(reader, shop["id"], "kettle") == []

    await wait_until(gone, timeout=5, what="the delete to reach Tantivy")
    assert await hit_ids(reader, other["id"], "kettle") == [str(twin["product_id"])]


async def test_the_indexer_exports_its_metrics(
    core: CoreWrite, pipeline: Pipeline
) -> None:
    shop = await make_tenant(core)
    await make_stocked_variant(core, shop["id"])
    await pipeline.settle()
    text = generate_latest(REGISTRY).decode()
    for name in ("rustok_indexer_events_total", "rustok_indexer_batch_size_bucket",
                 "rustok_indexer_batch_duration_seconds_bucket",
                 "rustok_index_lag_seconds_bucket", "rustok_indexer_documents_total"):
        assert name in text
    assert 'rustok_indexer_events_total{outcome="indexed",type="ProductCreated"}' in text
