"""verify compares what an engine holds, not only ids and versions: a Tantivy copy whose
content differs from the index table under the same version is found, and repair fixes it.
And the currency rule: a price in any ISO 4217 code gets the engine's price fields; any other
code is refused, by core_write and by the database for other writers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from core_write.errors import RustokError
from core_write.services import catalog
from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer.tantivy.engine import TantivyIds, tantivy_config
from indexer.tantivy.follower import TantivyFollower
from indexer.tantivy.reader import TantivyReader
from indexer.verify import repair, verify_engine
from tests import tantivy_search
from tests.builders import distinct_words, make_product, make_tenant, make_variant
from tests.pipeline import Pipeline
from tests.waiting import wait_until


@pytest.fixture
def tantivy_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"engines": ("tantivy",),
                                       "tantivy_dir": str(tmp_path / "tantivy")})


@pytest.fixture
async def following(pool: asyncpg.Pool, redis_client: aioredis.Redis, pipeline: Pipeline,
                    tantivy_settings: Settings) -> AsyncIterator[None]:
    """The consumer queues Tantivy, whose follower drains engine_queue in the background."""
    pipeline.consumer.settings = tantivy_settings
    stop = asyncio.Event()
    async with TantivyFollower(pool, redis_client, tantivy_settings,
                               tantivy_config(tantivy_settings)) as follower:
        task = asyncio.create_task(follower.run(stop))
        yield
        stop.set()
        await task


@pytest.fixture
async def reader(following: None, redis_client: aioredis.Redis, tantivy_settings: Settings,
                 stream_prefix: str) -> AsyncIterator[TantivyReader]:
    async with TantivyReader(tantivy_config(tantivy_settings), redis_client,
                             stream_prefix) as reader:
        yield reader


async def drained(pool: asyncpg.Pool) -> None:
    async def empty() -> bool:
        return not await pool.fetchval("SELECT count(*) FROM engine_queue")

    await wait_until(empty, what="the engine queue to drain")


async def test_verify_finds_an_engine_copy_with_other_content_and_repair_fixes_it(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, redis_client: aioredis.Redis,
    tantivy_settings: Settings, following: None,
) -> None:
    shop = await make_tenant(core)
    products = [await make_product(core, shop["id"], status="published") for _ in range(4)]
    variant = await make_variant(core, shop["id"], products[0]["id"])
    await core.call(catalog.set_price, shop["id"], variant["id"], "EUR", 1999)
    await pipeline.settle()
    await drained(pool)
    engine = TantivyIds(tantivy_settings, redis_client)
    try:
        assert (await verify_engine(pool, engine, "product", [shop["id"]])).total == 0
        # the engine gets other content under the same version (the index row is changed,
        # applied, and put back without a new version: what a lost or corrupted write leaves)
        victim = products[2]["id"]
        await pool.execute("UPDATE index_products SET title = 'Tampered' "
                           "WHERE product_id = $1", victim)
        await _queue(pool, victim, shop["id"])
        await drained(pool)
        await pool.execute("UPDATE index_products SET title = $2 WHERE product_id = $1",
                           victim, products[2]["title"])
        copies = await engine.copies("product", shop["id"])
        row = await pool.fetchrow("SELECT version FROM index_products WHERE product_id = $1",
                                  victim)
        assert copies[str(victim)][0] == row["version"]  # the version alone says "in sync"

        drift = await verify_engine(pool, engine, "product", [shop["id"]])
        assert (drift.stale, drift.missing, drift.extra) == ([victim], [], [])
        assert await repair(pool, drift, tantivy_settings.engines, True) == 1
        await drained(pool)

        async def clean() -> bool:
            return (await verify_engine(pool, engine, "product", [shop["id"]])).total == 0

        await wait_until(clean, what="the repaired copy to be live")
    finally:
        engine.close()


async def _queue(pool: asyncpg.Pool, doc_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
    await pool.execute(
        """INSERT INTO engine_queue (engine, doc_type, doc_id, tenant_id)
           VALUES ('tantivy', 'product', $1, $2) ON CONFLICT (engine, doc_type, doc_id)
           DO UPDATE SET seq = nextval('engine_queue_seq')""", doc_id, tenant_id)


async def test_every_iso_currency_is_searchable_and_others_are_refused(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, redis_client: aioredis.Redis,
    reader: TantivyReader,
) -> None:
    shop = await make_tenant(core)
    product = await make_product(core, shop["id"], status="published")
    variant = await make_variant(core, shop["id"], product["id"])
    # Mongolian tugrik and the CFA franc: ISO 4217 codes outside the old 15-currency list
    await core.call(catalog.set_price, shop["id"], variant["id"], "MNT", 125_000)
    await core.call(catalog.set_price, shop["id"], variant["id"], "XAF", 9_900)
    with pytest.raises(RustokError):
        await core.call(catalog.set_price, shop["id"], variant["id"], "ZZZ", 1)
    with pytest.raises(asyncpg.ForeignKeyViolationError):  # another writer, straight SQL
        await pool.execute(
            """INSERT INTO commerce_prices (id, tenant_id, variant_id, amount, currency_code)
               VALUES (gen_random_uuid(), $1, $2, 1, 'ZZZ')""", shop["id"], variant["id"])
    await pipeline.settle()
    await drained(pool)
    await reader.refresh(force=True)
    doc = await tantivy_search.get(reader, shop["id"], product["id"])
    assert doc is not None and doc["currencies"] == ["MNT", "XAF"]
    for currency, low, high, found in (("MNT", 100_000, 200_000, True),
                                       ("XAF", 9_900, 9_900, True), ("XAF", 1, 9_000, False)):
        price = {"price": {"currency": currency, "min": low, "max": high}}
        hits = await tantivy_search.hit_ids(reader, shop["id"], filters=price)
        assert hits == ([str(product["id"])] if found else []), price


async def test_an_oversized_description_reaches_tantivy_cut_at_the_bound(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, redis_client: aioredis.Redis,
    reader: TantivyReader,
) -> None:
    shop = await make_tenant(core)
    product = await make_product(core, shop["id"], status="published")
    text = distinct_words(1_100_000, seed=4)
    await pool.execute("UPDATE commerce_products SET description = $2 WHERE id = $1",
                       product["id"], text)  # another writer: no event
    await core.call(catalog.update_product, shop["id"], product["id"], {"subtitle": "long"})
    await pipeline.settle()
    await drained(pool)
    await reader.refresh(force=True)
    doc = await tantivy_search.get(reader, shop["id"], product["id"])
    assert doc is not None and len(doc["description"]) == 100_000
    for word, found in ((text.split()[1], True), (text.split()[-1], False)):
        hits = await tantivy_search.hit_ids(reader, shop["id"], word)
        assert hits == ([str(product["id"])] if found else []), word
