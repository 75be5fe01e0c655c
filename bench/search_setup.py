"""One-command set-up of the search benchmark (I/O: PostgreSQL, Redis, the index folder): a
catalog of N demo products in `bench_search_<N>` (the bulk loader, reused when it is there),
its index tables and Tantivy generation (a full reindex whose rows feed Tantivy, as the
elected engine writer does; skipped when both already hold every product), with
`MEILISEARCH_URL` set the tenants' Meilisearch indexes too (the reindex's queue rows drained
by the Meilisearch follower, an index missing or incomplete rebuilt behind a swap, as the
elected engine writer does), one search key per tenant, and the environment that points the
API children and the in-process runs at it.
"""

from __future__ import annotations

import hashlib
import os
import sys

import asyncpg
import redis.asyncio as aioredis

from bench.reindex import REDIS_URL, prepare_catalog
from core_write.db import create_pool
from core_write.settings import Settings
from indexer import index_rows
from indexer.meili import client as meili
from indexer.meili.config import index_uid, meili_config
from indexer.meili.follower import MeiliFollower
from indexer.model import DOC_TYPES
from indexer.reindex import Reindexer, Scope
from indexer.tantivy.engine import tantivy_config
from indexer.tantivy.follower import TantivyFollower
from indexer.tantivy.loader import FollowerLoader
from indexer.tantivy.schema import field_specs
from indexer.tantivy.store import GenerationStore
from search_api.auth import create_key


def schema_tag() -> str:
    """A short digest of this version's Tantivy schemas: the index folder is named by it, so
    versions with other fields (another branch, an older checkout) never search an index they
    did not build, and never rebuild one another's."""
    specs = repr([field_specs(doc_type) for doc_type in DOC_TYPES]).encode()
    return hashlib.sha256(specs).hexdigest()[:10]


def _tantivy_docs(settings: Settings) -> int:
    config = tantivy_config(settings)
    opened = GenerationStore(config.index_dir, "product", config.currencies).open_current(
        create=False)
    if opened is None:
        return 0
    opened[1].reload()
    return int(opened[1].searcher().num_docs)


async def prepare(products: int, tenants: int) -> list[str]:
    """Make `bench_search_<products>` ready to search, point this process's environment at it
    (the API children inherit it) and return one search key per tenant."""
    name = f"bench_search_{products}"
    dsn = await prepare_catalog(name, products, tenants)
    settings = Settings(DATABASE_URL=dsn, REDIS_URL=REDIS_URL, RUSTOK_ENGINES=("tantivy",),
                        RUSTOK_STREAM_PREFIX=name, TANTIVY_DIR=f"/tmp/{name}-{schema_tag()}")
    # with MEILISEARCH_URL set (from the environment), `meilisearch` joins the engines: the
    # reindex queues its rows too
    pool = await create_pool(dsn, max_size=8)
    try:
        indexed = await pool.fetchval("SELECT count(*) FROM index_products")
        if indexed != products:
            print(f"indexing {products:,} products into {name} and {settings.tantivy_dir} ...",
                  file=sys.stderr)
            await index_products(pool, settings)
        elif _tantivy_docs(settings) != products:
            # the index tables are complete (maybe searched by another run right now): only
            # the Tantivy generation of this schema is built, from their rows
            print(f"loading {products:,} products into {settings.tantivy_dir} ...",
                  file=sys.stderr)
            await _load_tantivy(pool, settings)
        if settings.meilisearch_url:
            await _meili_index(pool, settings, products)
        keys = [(await create_key(pool, f"demo-{t}", "search"))[0] for t in range(tenants)]
    finally:
        await pool.close()
    os.environ.update(DATABASE_URL=dsn, RUSTOK_ENGINES="tantivy", RUSTOK_STREAM_PREFIX=name,
                      TANTIVY_DIR=settings.tantivy_dir)
    return keys


async def _load_tantivy(pool: asyncpg.Pool, settings: Settings) -> None:
    redis = aioredis.Redis.from_url(REDIS_URL)
    follower = TantivyFollower(pool, redis, settings, tantivy_config(settings))
    try:
        await follower.open()
        await follower.rebuild("product", index_rows.stream_rows(pool, "product"))
    finally:
        await follower.close()
        await redis.aclose()


async def index_products(pool: asyncpg.Pool, settings: Settings) -> None:
    """The index tables and the Tantivy generation of every product of the database of
    `pool`: a bulk reindex whose rows feed Tantivy, as the elected engine writer does."""
    redis = aioredis.Redis.from_url(REDIS_URL)
    follower = TantivyFollower(pool, redis, settings, tantivy_config(settings))
    try:
        await follower.open()
        job = await Reindexer(pool, settings, bulk=True,
                              loader=FollowerLoader(follower)).run(Scope(doc_type="product"))
        if job["state"] != "succeeded":
            raise RuntimeError(f"the reindex failed: {job['error']}")
        while await follower.drain_once():  # what the reconciliation queued
            pass
    finally:
        await follower.close()
        await redis.aclose()


async def _meili_index(pool: asyncpg.Pool, settings: Settings, products: int) -> None:
    """The tenants' Meilisearch product indexes hold every product in the current document
    shape and nothing is queued for them: the queue drained, then any index missing or built
    with an older shape rebuilt, then any whose count still differs from the index table
    rebuilt (a reused catalog indexed before)."""
    config = meili_config(settings)
    redis = aioredis.Redis.from_url(REDIS_URL)
    try:
        async with meili.open_client(config) as client:
            follower = MeiliFollower(pool, redis, client, config, settings.stream_prefix)
            print(f"indexing into Meilisearch at {config.url} (prefix {config.prefix}) what "
                  "it lacks ...", file=sys.stderr)
            await follower.indexes.start()  # the server answers; settings brought in line
            while await follower.drain_once():  # what a reindex queued (the API's readiness
                pass                            # waits for it)
            for tenant_id, doc_type in await follower.indexes.start():
                await follower.rebuild(tenant_id, doc_type)
            counts = await follower.indexes.count_documents()
            for row in await pool.fetch("SELECT tenant_id, count(*) AS n FROM index_products "
                                        "GROUP BY tenant_id"):
                uid = index_uid(config.prefix, row["tenant_id"], "product")
                if counts.get(uid) != row["n"]:
                    await follower.rebuild(row["tenant_id"], "product")
    finally:
        await redis.aclose()
