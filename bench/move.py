"""`python -m bench move`: how long moving one tenant's Meilisearch indexes to another instance
takes (`rustok-search engines move`), at 30k products by default.

Needs two Meilisearch servers: `MEILISEARCH_INSTANCES=a=http://...,b=http://...` (with
`MEILISEARCH_API_KEY` or `MEILISEARCH_API_KEYS`). The catalog (one tenant) is loaded into a
scratch database with bench/catalog.py and indexed once; the tenant's indexes are built on the
first instance, then moved to the second by the follower's move (build on the target from the
index tables, switch, delete the old copy; no readers, so no grace before the deletion).
Its indexes use their own prefix and are deleted at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import uuid
from typing import Any

import redis.asyncio as aioredis

from bench import lifecycle
from bench.reindex import prepare_catalog
from bench.report import report
from core_write.db import create_pool
from core_write.settings import Settings, load_settings
from indexer.meili import client as meili
from indexer.meili.config import meili_config
from indexer.meili.follower import MeiliFollower
from indexer.meili.placement import request_move
from indexer.reindex import Reindexer, Scope

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


async def _index_rows(pool: Any, dsn: str, products: int) -> None:
    """The index table rows of the catalog (built once; the engines are not fed)."""
    have = await pool.fetchval("SELECT count(*) FROM index_products")
    if have == products:
        return
    print(f"indexing {products:,} products ...", file=sys.stderr)
    settings = load_settings(DATABASE_URL=dsn, REDIS_URL=REDIS_URL, RUSTOK_ENGINES="",
                             RUSTOK_STREAM_PREFIX=f"bench_move_{os.getpid()}")
    await Reindexer(pool, settings).run(Scope(None, "product", None), requested_by="bench")


async def run(args: argparse.Namespace) -> dict[str, object]:
    dsn = await prepare_catalog(args.database, args.products, 1)
    prefix = f"benchmove{uuid.uuid4().hex[:8]}"
    settings: Settings = load_settings(
        DATABASE_URL=dsn, REDIS_URL=REDIS_URL, RUSTOK_ENGINES="meilisearch",
        RUSTOK_STREAM_PREFIX=f"bench_move_{os.getpid()}", MEILISEARCH_INDEX_PREFIX=prefix)
    config = meili_config(settings)
    if len(config.servers) < 2:
        raise SystemExit("bench move needs MEILISEARCH_INSTANCES with two instances")
    source, target = config.names[0], config.names[1]
    async with contextlib.AsyncExitStack() as stack:
        pool = await create_pool(dsn, max_size=4)
        stack.push_async_callback(lifecycle.close_pool, pool)
        redis = aioredis.Redis.from_url(REDIS_URL)
        stack.push_async_callback(redis.aclose)
        await _index_rows(pool, dsn, args.products)
        await pool.execute("DELETE FROM engine_placements")
        await pool.execute("DELETE FROM engine_queue")
        client = await stack.enter_async_context(meili.open_client(config))
        follower = MeiliFollower(pool, redis, client, config, settings.stream_prefix)
        stack.push_async_callback(follower.close)
        stack.push_async_callback(_delete_indexes, follower, prefix)
        tenant = await pool.fetchval("SELECT id FROM tenants ORDER BY id LIMIT 1")
        started = time.perf_counter()
        needed = await follower.start()
        for tenant_id, doc_type in needed:
            await follower.rebuild(tenant_id, doc_type)
        built = time.perf_counter() - started
        placement = await request_move(pool, config, tenant, target)
        print(f"moving {args.products:,} products from {source} to {target} ...",
              file=sys.stderr)
        started = time.perf_counter()
        loaded = await follower.move(placement, grace=0)
        moved = time.perf_counter() - started
        counts = await follower.servers[target].indexes.count_documents()
        left = await follower.servers[source].indexes.count_documents()
    return {"products": args.products, "documents moved": loaded,
            "documents on the target": sum(counts.values()),
            "indexes left on the source": len(left),
            "first build on the source (s)": round(built, 1),
            "move, build to deletion of the old copy (s)": round(moved, 1),
            "move rate (documents/s)": round(loaded / moved)}


async def _delete_indexes(follower: MeiliFollower, prefix: str) -> None:
    for server in follower.servers.values():
        with contextlib.suppress(Exception):
            for index in await server.client.get_indexes(limit=1000) or []:
                if index.uid.startswith(prefix + "_"):
                    await server.client.index(index.uid).delete()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench move",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--products", type=int, default=30_000)
    parser.add_argument("--database", default="rustok_bench_move",
                        help="scratch database (kept between runs; reloaded when its product "
                             "count differs)")
    args = parser.parse_args()
    report("move", lifecycle.run(run(args)))


if __name__ == "__main__":
    main()
