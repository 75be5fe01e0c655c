"""A whole-type reindex builds a new generation table and swaps it in: writes the consumer made
meanwhile win by version, documents whose source went are dropped, the engines are queued,
the indexes keep their names; it falls back to in place when it must; an engine loader gets
the rows and ends up with exactly the index."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from bench.catalog import load_catalog
from core_write.settings import Settings
from indexer.documents import apply_documents
from indexer.engine_queue import backlog, read
from indexer.model import SPECS, DocType
from indexer.rebuild import LOCK_KEY, Rebuild, Rows, with_rebuild_lock
from indexer.reindex import Reindexer, Scope
from indexer.tantivy.engine import TantivyIds, tantivy_config
from indexer.tantivy.follower import TantivyFollower
from indexer.tantivy.loader import FollowerLoader
from indexer.verify import verify_engine, verify_postgres
from tests.waiting import wait_until

INDEX_NAMES = """
    SELECT array_agg(relname::text ORDER BY relname) FROM pg_class
    WHERE oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'index_products'::regclass)"""
TABLE_OID = "SELECT 'index_products'::regclass::oid"


@pytest.fixture
async def indexed(db_dsn: str, pool: asyncpg.Pool, settings: Settings) -> list[uuid.UUID]:
    """40 products over 2 tenants, indexed in place; their ids in order."""
    await load_catalog(db_dsn, 40, 0, 2, seed=9, connections=1, chunk=10)
    job = await Reindexer(pool, settings, bulk=False).run(Scope(doc_type="product"))
    assert job["state"] == "succeeded"
    await pool.execute("TRUNCATE engine_queue")
    return [r["id"] for r in await pool.fetch("SELECT id FROM commerce_products ORDER BY id")]


async def _consumer_writes(pool: asyncpg.Pool, *ids: uuid.UUID) -> None:
    """What the stream consumer does for a change: rebuild the documents in the live table."""
    await apply_documents(pool, "product", dict.fromkeys(ids, datetime.now(UTC)), (), True)


async def test_rebuild_keeps_newer_writes_drops_gone_sources_and_queues_engines(
    pool: asyncpg.Pool, indexed: list[uuid.UUID],
) -> None:
    names = await pool.fetchval(INDEX_NAMES)
    renamed, deleted = indexed[0], indexed[1]
    created = uuid.UUID(int=indexed[-1].int + 1)
    rebuild = Rebuild(pool, "product", True, ("tantivy",), None)

    async def run(conn: asyncpg.Connection) -> None:
        await rebuild.start(conn)
        await rebuild.build(indexed[:20])
        await rebuild.build(indexed[20:])
        # after their build: a rename, a delete and a new product, each applied by the
        # consumer to the live table
        await pool.execute("UPDATE commerce_products SET title = 'Renamed meanwhile' "
                           "WHERE id = $1", renamed)
        await pool.execute("DELETE FROM commerce_products WHERE id = $1", deleted)
        await pool.execute(
            """INSERT INTO commerce_products (id, tenant_id, title, handle, status)
               SELECT $2, tenant_id, 'Created meanwhile', 'created-meanwhile', 'published'
               FROM commerce_products WHERE id = $1""", renamed, created)
        await _consumer_writes(pool, renamed, deleted, created)
        await rebuild.finish()

    assert await with_rebuild_lock(pool, "product", SPECS["product"].lock_class, run)
    assert (rebuild.result.built, rebuild.result.removed) == (40, 1)
    assert rebuild.result.reconciled == 2  # the renamed and the created document
    titles = dict(await pool.fetch(
        "SELECT product_id, title FROM index_products WHERE product_id = ANY($1::uuid[])",
        [renamed, deleted, created]))
    assert titles == {renamed: "Renamed meanwhile", created: "Created meanwhile"}
    assert (await verify_postgres(pool, "product")).total == 0
    assert await pool.fetchval(INDEX_NAMES) == names
    assert await pool.fetchval("SELECT to_regclass('index_products_rebuild')") is None
    queued = {e.doc_id for e in await read(pool, "tantivy", 0, 100_000)}
    assert queued == {*indexed, created}  # every document, and the deleted one


@pytest.mark.parametrize("obstacle", ["trigger", "another rebuild"])
async def test_reindex_falls_back_to_in_place(
    pool: asyncpg.Pool, indexed: list[uuid.UUID], settings: Settings, obstacle: str,
) -> None:
    table = await pool.fetchval(TABLE_OID)
    await pool.execute("UPDATE index_products SET title = 'stale'")
    async with pool.acquire() as holder:
        if obstacle == "trigger":
            await holder.execute(
                "CREATE FUNCTION bench_noop() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RETURN NEW; END $$; CREATE TRIGGER bench_noop BEFORE UPDATE ON "
                "index_products FOR EACH ROW EXECUTE FUNCTION bench_noop()")
        else:
            await holder.execute("SELECT pg_advisory_lock($1, $2)", LOCK_KEY,
                                 SPECS["product"].lock_class)
        job = await Reindexer(pool, settings).run(Scope(doc_type="product"))
    assert (job["state"], job["done"]) == ("succeeded", len(indexed))
    assert await pool.fetchval(TABLE_OID) == table  # rebuilt in place, not swapped
    assert (await verify_postgres(pool, "product")).total == 0
    job = await Reindexer(pool, settings).run(Scope(doc_type="content"))
    assert job["state"] == "succeeded"


async def test_engine_loader_gets_the_rows_and_matches_the_index(
    pool: asyncpg.Pool, indexed: list[uuid.UUID], settings: Settings,
    redis_client: aioredis.Redis, tmp_path: Path,
) -> None:
    table = await pool.fetchval(TABLE_OID)
    # the Tantivy follower is the only engine writer here: no Meilisearch rows to wait for,
    # even when MEILISEARCH_URL is set for the suite
    settings = settings.model_copy(update={"tantivy_dir": str(tmp_path / "tantivy"),
                                           "meilisearch_url": "", "engines": ("tantivy",)})
    stop = asyncio.Event()
    async with TantivyFollower(pool, redis_client, settings,
                               tantivy_config(settings)) as follower:
        following = asyncio.create_task(follower.run(stop))
        job = await Reindexer(pool, settings, loader=FollowerLoader(follower)).run(
            Scope(doc_type="product"))
        assert job["state"] == "succeeded"
        await wait_until(lambda: _queue_empty(pool), what="the engine queue drained")
        stop.set()
        await following
    assert await pool.fetchval(TABLE_OID) != table
    tenants = [r["id"] for r in await pool.fetch("SELECT id FROM tenants")]
    ids = TantivyIds(settings, redis_client)
    try:
        drift = await verify_engine(pool, ids, "product", tenants)
        loaded = sum([len(await ids.versions("product", t)) for t in tenants])
    finally:
        ids.close()
    assert drift.total == 0 and loaded == len(indexed)


async def _queue_empty(pool: asyncpg.Pool) -> bool:
    return not any((await backlog(pool)).values())


class BrokenLoader:
    """An engine whose own load fails after taking every row (a disk full, say)."""

    engine = "tantivy"
    columns: Mapping[DocType, str] = {dt: spec.key for dt, spec in SPECS.items()}

    def __init__(self) -> None:
        self.rows = 0

    async def load(self, doc_type: DocType, rows: AsyncIterator[Rows]) -> None:
        async for batch in rows:
            self.rows += len(batch)
        raise OSError("no space left on device")


async def test_a_failed_engine_load_queues_the_whole_new_table_for_that_engine(
    pool: asyncpg.Pool, indexed: list[uuid.UUID], settings: Settings,
) -> None:
    loader = BrokenLoader()
    job = await Reindexer(pool, settings, loader=loader).run(Scope(doc_type="product"))
    assert job["state"] == "failed" and "no space left" in job["error"]
    assert loader.rows == len(indexed)
    assert (await verify_postgres(pool, "product")).total == 0  # the swap happened
    queued = {e.doc_id for e in await read(pool, "tantivy", 0, 100_000)}
    assert queued == set(indexed)  # its follower catches up from the queue


async def test_the_daemons_jobs_load_into_the_engine_writer_of_their_process(
    pool: asyncpg.Pool, indexed: list[uuid.UUID], settings: Settings,
    redis_client: aioredis.Redis, tmp_path: Path,
) -> None:
    from core_write.resources import Resources
    from indexer.daemon import job_loop
    from indexer.reindex import create_job
    from indexer.tantivy.engine import run_tantivy_follower
    from indexer.tantivy.loader import LiveFollower
    from indexer.tantivy.store import GenerationStore

    settings = settings.model_copy(update={"tantivy_dir": str(tmp_path / "tantivy"),
                                           "engines": ("tantivy",)})
    live = LiveFollower()  # what the daemon hands to both the engine body and the jobs
    assert live.loader("product") is None  # no engine writer in this process yet
    res = Resources(settings=settings, pool=pool, redis=redis_client)
    stop = asyncio.Event()
    following = asyncio.create_task(run_tantivy_follower(res, stop, live))
    jobs: asyncio.Task[None] | None = None
    store = GenerationStore(str(tmp_path / "tantivy"), "product", ("EUR", "USD"))
    try:
        async def first_generation_built() -> bool:  # the start-up rebuild of an empty dir
            return live.loader("product") is not None and store.current() is not None

        await wait_until(first_generation_built, what="the engine writer's first generation")
        before = store.current()
        job = await create_job(pool, Scope(doc_type="product"), "test")
        jobs = asyncio.create_task(job_loop(res, stop, poll=0.05, loader=live.loader))

        async def job_done() -> bool:
            state = await pool.fetchval("SELECT state FROM index_jobs WHERE id = $1", job["id"])
            return state in ("succeeded", "failed")

        await wait_until(job_done, what="the reindex job")
        assert await pool.fetchval("SELECT state FROM index_jobs WHERE id = $1",
                                   job["id"]) == "succeeded"
        # loaded into a new generation directly: the engine queue got only what the
        # reconciliation changed (nothing here), not every document
        assert store.current() != before
        assert await _queue_empty(pool)
    finally:
        stop.set()
        await asyncio.gather(following, *([jobs] if jobs else []), return_exceptions=True)
    assert live.loader("product") is None  # let go when the follower stopped
    ids = TantivyIds(settings, redis_client)
    try:
        tenants = [r["id"] for r in await pool.fetch("SELECT id FROM tenants")]
        assert (await verify_engine(pool, ids, "product", tenants)).total == 0
    finally:
        ids.close()
