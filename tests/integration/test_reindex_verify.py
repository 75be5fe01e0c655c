"""verify finds missing, stale and extra documents and repair fixes exactly those; reindex
under concurrent writes never empties the index and ends with no drift."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from core_write.services import catalog, users
from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer.reindex import Reindexer, Scope, create_job, get_job, resolve_scope
from indexer.verify import repair, verify_postgres
from rustok_search import demo_writer as demo
from tests.builders import FAST_HASHER
from tests.pipeline import Pipeline


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "hasher", FAST_HASHER)


@pytest.fixture
async def catalog_loaded(pool: asyncpg.Pool, pipeline: Pipeline) -> demo.DemoReport:
    report = await demo.load_demo(pool, demo.DemoSpec(products=60, nodes=30, tenants=2, seed=3))
    await pipeline.settle()
    return report


async def test_verify_finds_and_repair_fixes_drift(
    pool: asyncpg.Pool, catalog_loaded: Any, settings: Settings
) -> None:
    clean = await verify_postgres(pool, "product")
    assert clean.total == 0 and (await verify_postgres(pool, "content")).total == 0
    ids = [r["product_id"] for r in await pool.fetch(
        "SELECT product_id FROM index_products ORDER BY product_id LIMIT 3")]
    await pool.execute("DELETE FROM index_products WHERE product_id = $1", ids[0])
    await pool.execute("UPDATE index_products SET has_stock = NOT has_stock "
                       "WHERE product_id = $1", ids[1])
    await pool.execute("UPDATE index_products SET search_vector = to_tsvector('nothing') "
                       "WHERE product_id = $1", ids[2])
    ghost = await pool.fetchval(
        """INSERT INTO index_products (product_id, tenant_id, title, handle, status, created_at,
               version) SELECT gen_random_uuid(), tenant_id, 'ghost', 'ghost', 'published',
               now(), 1 FROM index_products LIMIT 1 RETURNING product_id""")
    drift = await verify_postgres(pool, "product")
    assert drift.missing == [ids[0]]
    assert sorted(drift.stale) == sorted(ids[1:])
    assert drift.extra == [ghost]
    assert await repair(pool, drift, settings.engines, settings.index_drafts) == 4
    assert (await verify_postgres(pool, "product")).total == 0


async def test_reindex_under_concurrent_writes_never_empties_and_converges(
    core: CoreWrite, pool: asyncpg.Pool, catalog_loaded: Any, pipeline: Pipeline,
    settings: Settings,
) -> None:
    before = await pool.fetchval("SELECT count(*) FROM index_products")
    products = [(r["tenant_id"], r["id"]) for r in await pool.fetch(
        "SELECT tenant_id, id FROM commerce_products ORDER BY id")]
    reindexer = Reindexer(pool, settings.model_copy(
        update={"reindex_batch_size": 7, "reindex_workers": 3}))
    lowest = before
    writing = True

    async def write() -> None:
        for round_ in range(3):
            for tenant_id, product_id in products[::4]:
                await core.call(catalog.update_product, tenant_id, product_id,
                                {"subtitle": f"round {round_}"})

    async def watch() -> None:
        nonlocal lowest
        while writing:  # each count is a round trip: the other tasks run meanwhile
            lowest = min(lowest, await pool.fetchval("SELECT count(*) FROM index_products"))

    watcher = asyncio.create_task(watch())
    job, _ = await asyncio.gather(reindexer.run(Scope(doc_type="product")), write())
    writing = False
    await watcher
    assert job["state"] == "succeeded" and job["total"] == job["done"] == before
    assert lowest == before  # no moment with a document missing
    await pipeline.settle()  # the events written during the reindex
    assert (await verify_postgres(pool, "product")).total == 0
    subtitles = await pool.fetch(
        "SELECT subtitle FROM index_products WHERE product_id = ANY($1::uuid[])",
        [pid for _t, pid in products[::4]])
    assert {r["subtitle"] for r in subtitles} == {"round 2"}


async def test_reindex_scope_and_jobs(
    pool: asyncpg.Pool, catalog_loaded: Any, settings: Settings
) -> None:
    scope = await resolve_scope(pool, "demo-1", "content", None)
    tenant_nodes = await pool.fetchval("SELECT count(*) FROM nodes WHERE tenant_id = $1",
                                       scope.tenant_id)
    await pool.execute("DELETE FROM index_content")
    job = await Reindexer(pool, settings).run(scope)
    assert (job["state"], job["total"], job["done"]) == ("succeeded", tenant_nodes, tenant_nodes)
    indexed = await pool.fetch("SELECT DISTINCT tenant_id FROM index_content")
    assert [r["tenant_id"] for r in indexed] == [scope.tenant_id]
    queued = await create_job(pool, Scope(), "test")
    assert (await get_job(pool, queued["id"]))["state"] == "queued"


@pytest.mark.parametrize(("tenant", "kind", "doc_id", "field"), [
    ("nope", None, None, None), (None, "orders", None, "type"),
    (None, None, "01J0000000000000000000000A", "id"), (None, "products", "bad", "id"),
])
async def test_reindex_scope_errors_name_the_input(
    pool: asyncpg.Pool, tenant: str | None, kind: str | None, doc_id: str | None,
    field: str | None,
) -> None:
    from core_write.errors import NotFound, ValidationFailed

    with pytest.raises((NotFound, ValidationFailed)) as info:
        await resolve_scope(pool, tenant, kind, doc_id)
    if field:
        assert getattr(info.value, "field", None) == field
