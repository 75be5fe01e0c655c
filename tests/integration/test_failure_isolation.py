"""One document that cannot be indexed never holds back the others: oversized text is cut at
the documented bound (and counted), an unbuildable document is parked alone in the
dead-letter stream, and verify/repair/reindex finish what they can and name the rest."""

from __future__ import annotations

import asyncio
import uuid
from argparse import Namespace
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from core_write.services import commerce_categories as cats
from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer.consumer import GROUP
from indexer.reindex import Reindexer, Scope
from indexer.verify import repair, verify_postgres
from rustok_search.cli import cmd_reindex, cmd_verify, verify_outcome
from tests.builders import (
    distinct_words,
    make_product,
    make_stock_location,
    make_stocked_variant,
    make_tenant,
)
from tests.pipeline import Pipeline
from tests.waiting import wait_until

TEXT_BOUND = 100_000
"""README (indexing): the description (or excerpt and body) feeds at most this many
characters to the search text."""
# Another writer's row the index refuses: a CHECK on the index table (copied into a rebuild's
# generation table, and allowed by its swap) stands for any data PostgreSQL rejects.
POISON = ("ALTER TABLE index_products ADD CONSTRAINT no_poison CHECK (title <> 'poison') "
          "NOT VALID")


async def category_of(core: CoreWrite, count: int
                      ) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]:
    """A tenant, a category and `count` published products in it."""
    shop = await make_tenant(core)
    category = (await core.call(cats.create_category, shop["id"],
                                {"name": "Shoes", "handle": f"shoes-{uuid.uuid4().hex[:6]}"})
                ).value
    ids = []
    for _ in range(count):
        product = await make_product(core, shop["id"], status="published")
        await core.call(cats.link_product_category, shop["id"], product["id"], category["id"])
        ids.append(product["id"])
    return shop["id"], category["id"], ids


async def uncaptured(pool: asyncpg.Pool, sql: str, *args: Any) -> None:
    """A write the change capture does not see (as a load with triggers off): no event."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL rustok.capture = 'off'")
        await conn.execute(sql, *args)


async def category_names(pool: asyncpg.Pool, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    rows = await pool.fetch("SELECT product_id, categories->0->>'name' AS name "
                            "FROM index_products WHERE product_id = ANY($1::uuid[])", ids)
    return {r["product_id"]: r["name"] for r in rows}


async def drain(pipeline: Pipeline, redis_client: aioredis.Redis, settings: Settings) -> None:
    """Publish and consume until nothing is pending (retries included)."""
    stop = asyncio.Event()

    async def quiet() -> bool:
        await pipeline.settle()
        await pipeline.consumer.process(await pipeline.consumer.read_batch(stop))
        pending = await redis_client.xpending(settings.stream, GROUP)
        backlog = await pipeline.relay.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL")
        return bool(pending["pending"] == 0 and backlog == 0)

    await wait_until(quiet, what="every entry to be indexed or dead-lettered")


def truncations(doc_type: str) -> float:
    return REGISTRY.get_sample_value("rustok_indexer_truncated_documents_total",
                                     {"doc_type": doc_type}) or 0.0


@pytest.fixture
def quick_retries(pipeline: Pipeline, settings: Settings) -> Settings:
    fast = settings.model_copy(update={"indexer_max_deliveries": 3,
                                       "indexer_retry_backoff_ms": 10})
    pipeline.consumer.settings = fast
    return fast


async def test_oversized_text_is_cut_at_the_bound_and_counted(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, redis_client: aioredis.Redis,
    settings: Settings,
) -> None:
    tenant, category, ids = await category_of(core, 12)
    await pipeline.settle()
    big = ids[5]
    text = distinct_words(1_100_000)  # 1.1 MB: its tsvector alone would pass 1 MB
    await pool.execute("UPDATE commerce_products SET description = $2 WHERE id = $1", big, text)
    before = truncations("product")
    await core.call(cats.update_category, tenant, category, {"name": "Boots"})
    await drain(pipeline, redis_client, settings)
    assert set((await category_names(pool, ids)).values()) == {"Boots"}
    assert await redis_client.xlen(settings.key("dlq")) == 0
    assert truncations("product") - before == 1
    row = await pool.fetchrow("SELECT length(description) AS n, "
                              "search_vector @@ to_tsquery('simple', $2) AS early, "
                              "search_vector @@ to_tsquery('simple', $3) AS late "
                              "FROM index_products WHERE product_id = $1",
                              big, text.split()[0], text.split()[-1])
    assert row["n"] == TEXT_BOUND and row["early"] and not row["late"]
    assert (await verify_postgres(pool, "product")).total == 0
    # a whole-type rebuild (a new generation table) cuts and counts it the same way
    job = await Reindexer(pool, settings).run(Scope(doc_type="product"))
    assert job["state"] == "succeeded" and truncations("product") - before == 2
    assert (await verify_postgres(pool, "product")).total == 0


async def test_oversized_content_body_is_cut_too(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, redis_client: aioredis.Redis,
    settings: Settings,
) -> None:
    from core_write.services import content

    shop = await make_tenant(core)
    # the longest body core_write accepts (256 KiB) is searchable to its last word
    longest = distinct_words(250_000, seed=5)
    node = (await core.call(content.create_node, shop["id"],
                            {"kind": "post", "title": "Long read",
                             "body": {"body": longest}})).value
    before = truncations("content")
    await pipeline.settle()
    assert truncations("content") == before
    assert await pool.fetchval("SELECT search_vector @@ to_tsquery('simple', $2) "
                               "FROM index_content WHERE node_id = $1",
                               node["id"], longest.split()[-1])
    await pool.execute("UPDATE bodies SET body = $2 WHERE node_id = $1", node["id"],
                       distinct_words(1_100_000, seed=2))
    await pool.execute("UPDATE nodes SET excerpt = $2 WHERE id = $1", node["id"],
                       distinct_words(200_000, seed=3))
    before = truncations("content")
    reindexed = await Reindexer(pool, settings).run(Scope(tenant_id=shop["id"]))
    assert reindexed["state"] == "succeeded", reindexed["error"]
    assert truncations("content") - before == 1
    assert await pool.fetchval("SELECT length(excerpt) FROM index_content WHERE node_id = $1",
                               node["id"]) == TEXT_BOUND
    assert (await verify_postgres(pool, "content")).total == 0


async def test_a_fanout_indexes_every_member_but_the_unbuildable_one(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, redis_client: aioredis.Redis,
    quick_retries: Settings,
) -> None:
    settings = quick_retries
    tenant, category, ids = await category_of(core, 13)
    await pipeline.settle()
    bad = ids[7]
    await pool.execute(POISON)
    await uncaptured(pool, "UPDATE commerce_products SET title = 'poison' WHERE id = $1", bad)
    await core.call(cats.update_category, tenant, category, {"name": "Boots"})
    await drain(pipeline, redis_client, settings)

    names = await category_names(pool, ids)
    assert {i for i, name in names.items() if name == "Boots"} == set(ids) - {bad}
    assert names[bad] == "Shoes"  # its previous document stays searchable
    [(dead_id, fields)] = await redis_client.xrange(settings.key("dlq"))
    assert fields[b"type"] == b"ReindexRequested"
    assert fields[b"doc_type"] == b"product" and fields[b"doc_id"] == str(bad).encode()
    assert b"no_poison" in fields[b"error"] and int(fields[b"deliveries"]) == 3
    assert str(bad).encode() in fields[b"data"]

    # the operator fixes the data and replays the dead letter: only that document is rebuilt
    await pool.execute("UPDATE commerce_products SET title = 'fixed' WHERE id = $1", bad)
    from search_api.routes_admin import DLQ_ERROR_FIELDS, REPLAY_SCRIPT

    args = [dead_id, *[x for k, v in fields.items() if k not in DLQ_ERROR_FIELDS
                       for x in (k, v)]]
    assert await redis_client.eval(REPLAY_SCRIPT, 2, settings.key("dlq"), settings.stream,
                                   *args)
    await drain(pipeline, redis_client, settings)
    assert (await category_names(pool, [bad]))[bad] == "Boots"
    assert await redis_client.xlen(settings.key("dlq")) == 0


async def test_verify_repair_and_reindex_name_the_unbuildable_document(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tenant, _category, ids = await category_of(core, 9)
    await pipeline.settle()
    bad, stale = ids[3], ids[6]
    await pool.execute(POISON)
    await uncaptured(pool, "UPDATE commerce_products SET title = 'poison' WHERE id = $1", bad)
    await pool.execute("UPDATE index_products SET has_stock = NOT has_stock "
                       "WHERE product_id = $1", stale)

    drift = await verify_postgres(pool, "product")
    assert sorted(drift.stale) == sorted([bad, stale])
    assert await repair(pool, drift, settings.engines, settings.index_drafts) == 1
    assert list(drift.failed) == [("product", bad)]
    assert verify_outcome([drift], repaired=True) == 1
    out = capsys.readouterr().out
    assert f"cannot build product {bad}: CheckViolationError" in out
    assert "repaired: 1 documents" in out
    after = await verify_postgres(pool, "product")
    assert after.stale == [bad]

    # in place (a tenant) and as a new generation table (the whole type)
    for scope in (Scope(tenant_id=tenant), Scope(doc_type="product")):
        job = await Reindexer(pool, settings).run(scope)
        assert job["state"] == "failed" and job["errors"] == 1
        assert job["done"] == job["total"] == len(ids)
        assert job["error"].startswith(f"1 document(s) could not be rebuilt: product {bad}: ")
        assert (await verify_postgres(pool, "product")).stale == [bad]
    assert await pool.fetchval("SELECT count(*) FROM index_products") == len(ids)

    # the commands: exit 1 while the document cannot be built, naming it; 0 once repaired
    cli = settings.model_copy(update={"engines": ()})
    capsys.readouterr()
    assert await cmd_verify(Namespace(tenant=None, repair=False), cli) == 1
    assert await cmd_verify(Namespace(tenant=None, repair=True), cli) == 1
    out = capsys.readouterr().out
    assert f"cannot build product {bad}" in out
    assert "the index tables checked again: 1 drift" in out
    reindex = Namespace(tenant=str(tenant), type="products", id=None, engine=None, queue=False)
    assert await cmd_reindex(reindex, cli) == 1
    assert f"product {bad}: CheckViolationError" in capsys.readouterr().out

    await pool.execute("UPDATE commerce_products SET title = 'fixed' WHERE id = $1", bad)
    assert await cmd_verify(Namespace(tenant=None, repair=True), cli) == 0
    assert "repaired: 1 documents; the index tables checked again: no drift" in \
        capsys.readouterr().out
    assert await cmd_verify(Namespace(tenant=None, repair=False), cli) == 0
    assert "no drift" in capsys.readouterr().out
    assert await cmd_reindex(reindex, cli) == 0


async def test_stock_beyond_the_int_range_is_capped_not_unbuildable(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, redis_client: aioredis.Redis,
    quick_retries: Settings,
) -> None:
    """Each level fits an INT, their sum over locations does not: the document says the
    largest count an INT holds instead of failing to build."""
    shop = await make_tenant(core)
    north = await make_stock_location(core, shop["id"])
    south = await make_stock_location(core, shop["id"])
    big = 2_000_000_000
    variant = await make_stocked_variant(core, shop["id"], stock={north["id"]: big,
                                                                   south["id"]: big})
    await drain(pipeline, redis_client, quick_retries)
    assert await redis_client.xlen(quick_retries.key("dlq")) == 0
    row = await pool.fetchrow("SELECT total_stock, has_stock FROM index_products "
                              "WHERE product_id = $1", variant["product_id"])
    assert (row["total_stock"], row["has_stock"]) == (2**31 - 1, True)
    assert (await verify_postgres(pool, "product")).total == 0


async def test_several_events_of_one_unbuildable_document_leave_one_dead_letter(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, redis_client: aioredis.Redis,
    quick_retries: Settings,
) -> None:
    from core_write.services import catalog

    shop = await make_tenant(core)
    bad, good = (await make_product(core, shop["id"]), await make_product(core, shop["id"]))
    await pipeline.settle()
    await pool.execute(POISON)
    await uncaptured(pool, "UPDATE commerce_products SET title = 'poison' WHERE id = $1",
                     bad["id"])
    for round_ in range(3):
        for product in (bad, good):
            await core.call(catalog.update_product, shop["id"], product["id"],
                            {"subtitle": f"round {round_}"})
    await drain(pipeline, redis_client, quick_retries)
    [(_, fields)] = await redis_client.xrange(quick_retries.key("dlq"))
    assert (fields[b"type"], fields[b"doc_id"]) == (b"ProductUpdated", str(bad["id"]).encode())
    assert await pool.fetchval("SELECT subtitle FROM index_products WHERE product_id = $1",
                               good["id"]) == "round 2"


async def test_verify_reports_a_document_it_cannot_build_and_checks_the_rest(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from indexer import verify

    _tenant, _category, ids = await category_of(core, 6)
    await pipeline.settle()
    bad, stale = ids[1], ids[4]
    await pool.execute("DELETE FROM index_products WHERE product_id = ANY($1::uuid[])",
                       [bad, stale])
    # a build that fails for one row's data, as the tsvector limit once did (in the select
    # list: evaluated only for the rows a page returns)
    failing = verify.COMPARE["product"].replace(
        "AS missing FROM built b",
        f"AS missing, 1 / (CASE WHEN b.product_id = '{bad}' THEN 0 ELSE 1 END) AS poison "
        "FROM built b", 1)
    assert failing != verify.COMPARE["product"]
    monkeypatch.setitem(verify.COMPARE, "product", failing)
    drift = await verify_postgres(pool, "product")
    assert drift.missing == [stale] and drift.stale == []
    assert list(drift.failed) == [("product", bad)]
    assert drift.failed["product", bad].startswith("DivisionByZeroError")
