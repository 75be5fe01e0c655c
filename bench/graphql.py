"""GraphQL next to REST: the same faceted product search, one request at a time, alternating,
in one process against one backend (PostgreSQL), so the difference is GraphQL's own cost.

`python -m bench graphql [--products N] [--requests N]`: creates a scratch database, loads the
demo catalog, indexes it, then times both endpoints; drops the database at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from core_write.db import connect, create_pool, quote_ident, with_database
from core_write.migrations import migrate
from core_write.settings import Settings
from indexer.reindex import Reindexer, Scope
from rustok_search.demo_writer import DemoSpec, load_demo
from search_api.app import create_app
from search_api.auth import create_key

BASE = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
REST_BODY = {"q": "boots", "facets": ["categories", "tags"], "per_page": 20}
GRAPHQL_BODY = {"query": '{ searchProducts(q: "boots", facets: ["categories", "tags"], '
                         "perPage: 20) { total stale hits { id document } "
                         "facets { name values { value count } } } }"}


def _stats(samples: list[float]) -> str:
    xs = sorted(samples)
    return (f"p50 {statistics.median(xs):.2f} ms, p90 {xs[int(len(xs) * 0.9)]:.2f} ms, "
            f"p99 {xs[int(len(xs) * 0.99)]:.2f} ms")


async def run(args: argparse.Namespace) -> None:
    name = f"rustok_bench_graphql_{uuid.uuid4().hex[:8]}"
    dsn = with_database(BASE, name)
    try:
        await migrate(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=4)
        await load_demo(pool, DemoSpec(products=args.products, nodes=0, tenants=1))
        settings = Settings(DATABASE_URL=dsn, REDIS_URL=REDIS, SEARCH_BACKEND="postgres",
                            RUSTOK_STREAM_PREFIX=f"bench-graphql-{uuid.uuid4().hex[:6]}")
        await Reindexer(pool, settings).run(Scope())
        key, _ = await create_key(pool, "demo-0", "search")
        client: TestClient[Any, Any] = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        headers = {"Authorization": f"Bearer {key}"}

        async def rest() -> int:
            resp = await client.post("/v1/search/products", json=REST_BODY, headers=headers)
            return int((await resp.json())["total"])

        async def graphql() -> int:
            resp = await client.post("/graphql", json=GRAPHQL_BODY, headers=headers)
            return int((await resp.json())["data"]["searchProducts"]["total"])

        ways: dict[str, Callable[[], Awaitable[int]]] = {"REST": rest, "GraphQL": graphql}
        totals = {label: await way() for label, way in ways.items()}
        assert len(set(totals.values())) == 1, totals  # the same answer both ways
        samples: dict[str, list[float]] = {label: [] for label in ways}
        for i in range(args.requests):
            order = list(ways.items()) if i % 2 else list(reversed(ways.items()))
            for label, way in order:
                started = time.perf_counter()
                await way()
                samples[label].append((time.perf_counter() - started) * 1000)
        await client.close()
        await pool.close()
        print(f"| endpoint | {args.requests} requests, {args.products} products, "
              f"{totals['REST']} hits |\n|---|---|")
        for label, xs in samples.items():
            print(f"| {label} | {_stats(xs[args.requests // 10:])} |")
        print(f"load average {os.getloadavg()[0]:.1f}")
    finally:
        admin = await connect(BASE)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        finally:
            await admin.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=300)
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
