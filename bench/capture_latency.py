"""psql commit to searchable: product renames made with the real `psql` client (no core_write,
only the capture triggers of migration 0013) while a relay and an indexer (Tantivy engine) run
as separate processes; for each, the time from psql's exit (its commit done) until the new
title is in index_products (what the Postgres backend searches) and until a search for the
title's unique word through the API's Tantivy backend, in this process, finds the product.
With `--storm N`, then N products inserted by one plain-SQL statement and all of them renamed
by another: the time from each commit until every document is in index_products, and the
outbox rows each statement wrote. Prints a Markdown table and writes JSON to bench/results/.

    python -m bench.capture_latency [--renames 30] [--products 300] [--nodes 100] [--storm N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
import uuid

import asyncpg

from bench import lifecycle
from bench.lifecycle import (
    scratch_catalog,
    spawn_cli,
    stop_process,
)
from bench.report import load_average, report
from core_write.db import with_database
from core_write.settings import Settings
from indexer.tantivy.engine import tantivy_config
from indexer.tantivy.reader import TantivyReader
from search_api.backends.tantivy import TantivyBackend
from search_api.model import SearchQuery
from search_api.scope import SearchScope

VISIBLE_TIMEOUT_SECONDS = 30.0
"""How long one rename may take to show up in both places."""
STORM_TIMEOUT_SECONDS = 900.0
"""How long the indexer may take to index a storm's documents."""


async def _psql(dsn: str, sql: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        "psql", dsn, "-qX", "-v", "ON_ERROR_STOP=1", "-c", sql,
        stdout=asyncio.subprocess.DEVNULL)
    if await proc.wait() != 0:
        raise RuntimeError(f"psql failed: {sql}")


async def _found(backend: TantivyBackend, tenant: uuid.UUID, product: uuid.UUID,
                 word: str) -> bool:
    query = SearchQuery.model_validate({"doc_type": "product", "q": word, "per_page": 5})
    result = await backend.search(query, SearchScope(tenant_id=tenant, include_drafts=True))
    return any(hit.id == product for hit in result.hits)


async def _rename(dsn: str, pool: asyncpg.Pool, backend: TantivyBackend, tenant: uuid.UUID,
                  product: uuid.UUID, word: str) -> tuple[float, float]:
    """Seconds from psql's exit to the new title in index_products, and to a Tantivy search
    for its unique word finding the product."""
    title = f"{word} renamed in psql"
    await _psql(dsn, f"UPDATE commerce_products SET title = '{title}' WHERE id = '{product}'")
    committed = time.perf_counter()
    in_pg = in_tantivy = None
    deadline = committed + VISIBLE_TIMEOUT_SECONDS
    while in_pg is None or in_tantivy is None:
        now = time.perf_counter()
        if now > deadline:
            raise TimeoutError(f"rename of {product} not visible in {VISIBLE_TIMEOUT_SECONDS}s")
        if in_pg is None and await pool.fetchval(
                "SELECT title FROM index_products WHERE product_id = $1", product) == title:
            in_pg = now - committed
        if in_tantivy is None and await _found(backend, tenant, product, word):
            in_tantivy = now - committed
        await asyncio.sleep(0.002)  # polling a condition with a deadline
    return in_pg, in_tantivy


async def _storm(pool: asyncpg.Pool, tenant: uuid.UUID, n: int) -> dict[str, object]:
    """N products inserted by one statement, then renamed by one: commit to all indexed."""
    out: dict[str, object] = {}
    statements = {
        "insert": ("INSERT INTO commerce_products (id, tenant_id, title, handle, status) "
                   "SELECT gen_random_uuid(), $1, 'Storm ' || g, 'storm-' || g, 'published' "
                   "FROM generate_series(1, $2) g", "'Storm %'"),
        "update": ("UPDATE commerce_products SET title = title || ' renamed' "
                   "WHERE tenant_id = $1 AND handle LIKE 'storm-%' AND $2 > 0",
                   "'Storm % renamed'"),
    }
    for op, (sql, pattern) in statements.items():
        mark = await pool.fetchval("SELECT coalesce(max(seq), 0) FROM outbox")
        began = time.perf_counter()
        await pool.execute(sql, tenant, n)
        committed = time.perf_counter()
        deadline = committed + STORM_TIMEOUT_SECONDS
        while await pool.fetchval("SELECT count(*) FROM index_products WHERE tenant_id = $1 "
                                  f"AND title LIKE {pattern}", tenant) < n:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the storm's {op} was not indexed in time")
            await asyncio.sleep(0.1)  # polling a condition with a deadline
        out[f"storm_{op}_statement_s"] = round(committed - began, 2)
        out[f"storm_{op}_outbox_rows"] = await pool.fetchval(
            "SELECT count(*) FROM outbox WHERE seq > $1", mark)
        out[f"storm_{op}_commit_to_indexed_s"] = round(time.perf_counter() - committed, 1)
    return out


def _summary(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):.0f} / p95 {p95:.0f} / max {ms[-1]:.0f}"


async def run(args: argparse.Namespace) -> dict[str, object]:
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/rustok")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"rustok_bench_{uuid.uuid4().hex[:8]}"
    dsn = with_database(base, name)
    tantivy_dir = f"/tmp/{name}"
    settings = Settings(DATABASE_URL=dsn, REDIS_URL=redis_url, RUSTOK_STREAM_PREFIX=f"bench:{name}",
                        TANTIVY_DIR=tantivy_dir)
    env = dict(os.environ, DATABASE_URL=dsn, REDIS_URL=redis_url,
               RUSTOK_STREAM_PREFIX=settings.stream_prefix, TANTIVY_DIR=tantivy_dir,
               RUSTOK_ENGINES="tantivy", RUSTOK_LOG_LEVEL="WARNING", RELAY_METRICS_PORT="0",
               INDEXER_METRICS_PORT="0")
    async with contextlib.AsyncExitStack() as stack:  # undone in reverse order, always
        redis, pool = await scratch_catalog(stack, base, name, redis_url, settings.stream_prefix,
                                            tantivy_dir, args.products, args.nodes, 4)
        for command in ("relay", "indexer"):
            stack.push_async_callback(stop_process, await spawn_cli(command, env))
        reader = await stack.enter_async_context(
            TantivyReader(tantivy_config(settings), redis, settings.stream_prefix))
        backend = TantivyBackend(reader)
        stack.callback(backend._threads.shutdown, wait=False)
        rows = await pool.fetch("SELECT id, tenant_id FROM commerce_products ORDER BY id "
                                "LIMIT $1", args.renames + 1)
        # the first rename also waits for the demo catalog to be indexed: not counted
        # not counted: the first rename also waits for the demo catalog to be indexed, and
        # the one after it took 1.3-1.9 s in every run (the processes' start-up work ending)
        warm_up = [await _rename(dsn, pool, backend, rows[-1]["tenant_id"], rows[-1]["id"],
                                 f"warmup{k}{uuid.uuid4().hex[:8]}") for k in range(2)]
        pg: list[float] = []
        tv: list[float] = []
        load = os.getloadavg()
        for i, row in enumerate(rows[:-1]):
            in_pg, in_tantivy = await _rename(dsn, pool, backend, row["tenant_id"], row["id"],
                                              f"psql{i}x{uuid.uuid4().hex[:8]}")
            pg.append(in_pg)
            tv.append(in_tantivy)
        storm = await _storm(pool, rows[0]["tenant_id"], args.storm) if args.storm else {}
    return {
        "renames": len(pg), "products": args.products,
        "warm_up_renames_ms": ", ".join(f"{a * 1000:.0f}/{b * 1000:.0f}" for a, b in warm_up),
        "psql_commit_to_index_products_ms": _summary(pg),
        "psql_commit_to_tantivy_search_ms": _summary(tv),
        "load_average_1_5_15": load_average(load), **storm,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--renames", type=int, default=30)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--storm", type=int, default=0, metavar="N",
                        help="then insert and rename N products in one statement each")
    report("capture_latency", lifecycle.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
