"""Full product reindex: ours against the per-entity baseline and Tantivy alone (I/O).

Ours (Postgres index tables + Tantivy), the manifest's per-entity indexer
(bench/baseline_naive.py), Tantivy's own bulk-load rate of the same documents and, with
`MEILISEARCH_URL` set, the Meilisearch rebuild of every tenant's product index from the index
tables (the follower's path: `{uid}__next` filled through the task queue, then swapped in),
each in a child process that reports its peak RSS (VmHWM).

    python -m bench reindex [--products 100000] [--tenants 3] [--baseline-products 5000]

The catalog comes from the bulk loader (bench/catalog.py) into `bench_reindex_<N>`, reused
when it already holds N products. Every run starts from empty index tables and a fresh
Tantivy directory under /tmp/bench_reindex_*. Prints a Markdown table, writes JSON to
bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis
import tantivy

from bench import lifecycle
from bench.baseline_naive import reindex_naive
from bench.catalog import database_dsn, load_catalog
from bench.lifecycle import close_pool, delete_keys, die_with_parent, stop_tasks
from bench.report import report
from core_write.db import connect, create_pool, database_name, quote_ident, with_database
from core_write.migrations import migrate
from core_write.process_settings import DEFAULT_CURRENCIES
from core_write.settings import Settings
from indexer import index_rows
from indexer.engine_queue import backlog
from indexer.meili import client as meili
from indexer.meili.config import meili_config
from indexer.meili.follower import MeiliFollower
from indexer.model.engines import tantivy_values
from indexer.reindex import Reindexer, Scope
from indexer.tantivy.engine import tantivy_config
from indexer.tantivy.follower import TantivyFollower
from indexer.tantivy.loader import FollowerLoader
from indexer.tantivy.schema import build_schema
from indexer.tantivy.store import GenerationStore
from indexer.verify import COMPARE, verify_postgres

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
TARGET_RATE = 15_000
TARGET_RATIO = 20
STOP_SECONDS = 30.0
"""How long the follower may take to finish its batch once told to stop."""
DRAIN_STALL_SECONDS = 120.0
"""How long engine_queue may stay the same size before the drain counts as stuck."""
CHILD_TIMEOUT_SECONDS = 3600.0
"""How long one measurement's child process may run before it is killed."""
MODES = ("ours", "queue", "in_place", "tantivy_raw", "meilisearch", "baseline")
"""In the order they run: Tantivy alone and Meilisearch read the rows the modes before them
wrote (or fill the index tables first, untimed)."""
DEFAULT_MODES = tuple(m for m in MODES
                      if m != "meilisearch" or os.environ.get("MEILISEARCH_URL"))


# ---- the child processes -------------------------------------------------------------------
def memory_mb(*fields: str) -> dict[str, float]:
    """Fields of /proc/self/status (VmHWM: peak resident set; RssAnon: heap and stacks;
    RssFile: mapped files, e.g. Tantivy's segments), in MB."""
    out = dict.fromkeys(fields, 0.0)
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in out:
            out[name] = int(value.split()[0]) / 1024
    return out


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    return memory_mb("VmHWM")["VmHWM"]


class MemorySampler:
    """The peak of RssAnon and RssFile, sampled every 50 ms (the kernel keeps only the peak
    of their sum)."""

    def __init__(self) -> None:
        self.peak = {"RssAnon": 0.0, "RssFile": 0.0}
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            for name, value in memory_mb(*self.peak).items():
                self.peak[name] = max(self.peak[name], value)
            await asyncio.sleep(0.05)

    def __enter__(self) -> MemorySampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def child_settings(dsn: str, tantivy_dir: str, workers: int) -> Settings:
    return Settings(DATABASE_URL=dsn, REDIS_URL=REDIS_URL, RUSTOK_ENGINES=("tantivy",),
                    RUSTOK_STREAM_PREFIX=f"bench_reindex_{os.getpid()}", TANTIVY_DIR=tantivy_dir,
                    REINDEX_WORKERS=workers, RUSTOK_DB_POOL_MAX=workers + 4)


async def _empty_index(dsn: str) -> None:
    conn = await connect(dsn)
    try:
        await conn.execute("TRUNCATE index_products, engine_queue")
    finally:
        await conn.close()


async def run_ours(dsn: str, mode: str, workers: int, start: str) -> dict[str, Any]:
    """Reindex every product with the engine follower running in this process: `ours` feeds
    Tantivy the rows being built, `queue` leaves it to the follower draining engine_queue
    (the reindex run by the CLI while the daemon follows), `in_place` is the previous
    keyset-page upsert. `start`: from empty index tables, or over full ones (a reindex of a
    live index; Tantivy starts empty either way)."""
    await _empty_index(dsn)
    stop = asyncio.Event()
    # undone in reverse order whatever happens: the follower's task, the follower, the keys,
    # its Redis client, the pool, the Tantivy directory
    async with contextlib.AsyncExitStack() as stack:
        tantivy_dir = tempfile.mkdtemp(prefix="bench_reindex_", dir="/tmp")
        stack.callback(shutil.rmtree, tantivy_dir, ignore_errors=True)
        settings = child_settings(dsn, tantivy_dir, workers)
        pool = await create_pool(dsn, max_size=workers + 4)
        stack.push_async_callback(close_pool, pool)
        if start == "full":
            untimed = settings.model_copy(update={"engines": ()})
            await Reindexer(pool, untimed).run(Scope(doc_type="product"))
        redis = aioredis.Redis.from_url(REDIS_URL)
        stack.push_async_callback(redis.aclose)
        stack.push_async_callback(delete_keys, redis, f"{settings.stream_prefix}:*")
        config = tantivy_config(settings)
        follower = TantivyFollower(pool, redis, settings, config)
        stack.push_async_callback(follower.close)
        await follower.open()
        following = asyncio.create_task(follower.run(stop), name="follower")
        stack.push_async_callback(stop_tasks, [following])
        stack.callback(stop.set)
        loader = FollowerLoader(follower) if mode == "ours" else None
        reindexer = Reindexer(pool, settings, bulk=mode != "in_place", loader=loader)
        with MemorySampler() as memory:
            started = time.perf_counter()
            job = await reindexer.run(Scope(doc_type="product"))
            postgres_done = time.perf_counter()
            assert job["state"] == "succeeded", job["error"]
            await _drain_engine_queue(pool, follower, following)
            finished = time.perf_counter()
        stop.set()
        await asyncio.wait_for(following, timeout=STOP_SECONDS)
        drift = (await verify_postgres(pool, "product")).total
        store = GenerationStore(config.index_dir, "product", config.currencies)
        opened = store.open_current(create=False)
        assert opened is not None
        opened[1].reload()
        in_tantivy = opened[1].searcher().num_docs
    return {"products": job["done"], "seconds": finished - started,
            "postgres_seconds": postgres_done - started, "verify_drift": drift,
            "tantivy_docs": in_tantivy, "peak_rss_mb": peak_rss_mb(),
            "peak_anon_mb": memory.peak["RssAnon"], "peak_file_mb": memory.peak["RssFile"]}


async def _drain_engine_queue(pool: asyncpg.Pool, follower: TantivyFollower,
                              following: asyncio.Task[None]) -> None:
    """Wait until the follower has applied everything queued for Tantivy; fails if it
    stopped or makes no progress for DRAIN_STALL_SECONDS."""
    left, progressed = None, time.monotonic()
    while queued := sum((await backlog(pool)).values()):
        if following.done():
            following.result()  # its error, if it failed
            raise RuntimeError("the Tantivy follower stopped with rows still queued")
        if queued != left:
            left, progressed = queued, time.monotonic()
        elif time.monotonic() - progressed > DRAIN_STALL_SECONDS:
            raise TimeoutError(f"engine_queue stuck at {queued} rows for "
                               f"{DRAIN_STALL_SECONDS:.0f} s")
        follower.wake()
        await asyncio.sleep(0.01)  # polling a condition with a deadline


async def run_baseline(dsn: str, limit: int) -> dict[str, Any]:
    """The per-entity indexer over the first `limit` products; its documents are then
    compared with fresh builds of ours (they must be equal)."""
    await _empty_index(dsn)
    conn = await connect(dsn)
    try:
        tenants = [r["id"] for r in await conn.fetch("SELECT id FROM tenants ORDER BY slug")]
        started = time.perf_counter()
        done = await reindex_naive(conn, tenants, limit)
        seconds = time.perf_counter() - started
        differing = len(await conn.fetch(COMPARE["product"], done, True))
    finally:
        await conn.close()
    return {"products": len(done), "seconds": seconds, "documents_differing": differing,
            "peak_rss_mb": peak_rss_mb()}


async def run_tantivy_raw(dsn: str, heap_mb: int) -> dict[str, Any]:
    """Tantivy alone: the index rows ours wrote, mapped to documents first, then added to a
    fresh index and committed (the engine's limit; mapping is timed apart)."""
    pool = await create_pool(dsn, max_size=2)
    path = tempfile.mkdtemp(prefix="bench_reindex_raw_", dir="/tmp")
    try:
        mapped: list[dict[str, Any]] = []
        mapping = 0.0
        async for rows in index_rows.stream_rows(pool, "product", 5000):
            started = time.perf_counter()
            mapped.extend(tantivy_values("product", row, DEFAULT_CURRENCIES) for row in rows)
            mapping += time.perf_counter() - started
        index = tantivy.Index(build_schema("product"), path=path, reuse=False)
        writer = index.writer(heap_size=heap_mb * 1_000_000)
        started = time.perf_counter()
        for values in mapped:
            writer.add_document(tantivy.Document(**values))
        writer.commit()
        writer.wait_merging_threads()
        seconds = time.perf_counter() - started
    finally:
        await pool.close()
        shutil.rmtree(path, ignore_errors=True)
    return {"products": len(mapped), "seconds": seconds, "mapping_seconds": mapping,
            "peak_rss_mb": peak_rss_mb()}


async def run_meili(dsn: str) -> dict[str, Any]:
    """Every tenant's Meilisearch product index rebuilt from the index tables, one after the
    other, as the elected follower does (indexes under a scratch prefix, deleted after)."""
    settings = child_settings(dsn, "/tmp", 1).model_copy(update={
        "meilisearch_url": os.environ["MEILISEARCH_URL"],
        "meilisearch_api_key": os.environ.get("MEILISEARCH_API_KEY", ""),
        "meilisearch_index_prefix": f"bench-reindex-{os.getpid()}"})
    config = meili_config(settings)
    pool = await create_pool(dsn, max_size=4)
    redis = aioredis.Redis.from_url(REDIS_URL)
    try:
        if not await pool.fetchval("SELECT count(*) FROM index_products"):
            untimed = settings.model_copy(update={"engines": ()})
            await Reindexer(pool, untimed).run(Scope(doc_type="product"))
        async with meili.open_client(config) as client:
            follower = MeiliFollower(pool, redis, client, config, settings.stream_prefix)
            try:
                await follower.indexes.start()  # the server answers, the key is accepted
                tenants = [r["tenant_id"] for r in await pool.fetch(
                    "SELECT DISTINCT tenant_id FROM index_products ORDER BY 1")]
                started = time.perf_counter()
                loaded = 0
                for tenant in tenants:
                    loaded += await follower.rebuild(tenant, "product")
                seconds = time.perf_counter() - started
                documents = sum((await follower.indexes.count_documents()).values())
            finally:
                for index in await client.get_indexes(limit=1000) or []:
                    if index.uid.startswith(config.prefix + "_"):
                        await follower.indexes.drop(index.uid)
                await pool.execute("DELETE FROM engine_indexes WHERE engine = 'meilisearch' "
                                   "AND uid LIKE $1", config.prefix + "\\_%")
    finally:
        await redis.aclose()
        await pool.close()
    return {"products": loaded, "seconds": seconds, "meili_documents": documents,
            "batch": config.batch, "peak_rss_mb": peak_rss_mb()}


def child_main(args: argparse.Namespace) -> None:
    if args.child == "baseline":
        result = lifecycle.run(run_baseline(args.dsn, args.baseline_products))
    elif args.child == "tantivy_raw":
        heap = child_settings(args.dsn, "/tmp", 1).tantivy_writer_heap_mb
        result = lifecycle.run(run_tantivy_raw(args.dsn, heap))
    elif args.child == "meilisearch":
        result = lifecycle.run(run_meili(args.dsn))
    else:
        result = lifecycle.run(run_ours(args.dsn, args.child, args.workers, args.start))
    print("RESULT " + json.dumps(result))


# ---- the parent ----------------------------------------------------------------------------
async def prepare_catalog(name: str, products: int, tenants: int) -> str:
    """The DSN of a database holding exactly the demo catalog of `products` products (loaded
    with bench/catalog.py unless it is there already)."""
    dsn = database_dsn(name)
    admin = await connect(with_database(dsn, "postgres"))
    try:
        if await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            conn = await connect(dsn)
            try:
                have = await conn.fetchval("SELECT count(*) FROM commerce_products")
            finally:
                await conn.close()
            if have == products:
                await migrate(dsn)  # the schema may have moved on since it was loaded
                return dsn
            await admin.execute(f"DROP DATABASE {quote_ident(name)} WITH (FORCE)")
    finally:
        await admin.close()
    print(f"loading {products:,} products into {name} ...", file=sys.stderr)
    loaded = await load_catalog(dsn, products, 0, tenants)
    print(loaded.summary(), file=sys.stderr)
    return dsn


def run_child(mode: str, dsn: str, args: argparse.Namespace,
              extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run one measurement in a child process (its own peak RSS) and return its result."""
    import subprocess

    command = [sys.executable, "-m", "bench.reindex", "--child", mode, "--dsn", dsn,
               "--workers", str(args.workers), "--baseline-products",
               str(args.baseline_products), "--start", args.start, *extra]
    env = dict(os.environ, RUSTOK_LOG_LEVEL="WARNING")
    if mode != "meilisearch":  # MEILISEARCH_URL would add Meilisearch to the engines fed
        env.pop("MEILISEARCH_URL", None)
    try:  # a child past its time is killed, not waited for forever
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                              check=False, timeout=args.child_timeout,
                              preexec_fn=die_with_parent)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{mode} did not finish in {args.child_timeout:.0f} s: killed"
                           ) from exc
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"{mode} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    result["rate"] = result["products"] / result["seconds"]
    return result


def measure(dsn: str, args: argparse.Namespace, modes: tuple[str, ...],
            rounds: int = 1) -> dict[str, Any]:
    """Each mode once per round, the modes taking turns (the shared machine's load changes
    then hit them alike); per mode the round with the median rate, and the rates of all."""
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    for number in range(rounds):
        for mode in modes:
            print(f"round {number + 1}/{rounds}: {mode} ...", file=sys.stderr)
            load = os.getloadavg()[0]
            result = run_child(mode, dsn, args)
            result["load_average"] = f"{load:.1f} -> {os.getloadavg()[0]:.1f}"
            runs[mode].append(result)
    results: dict[str, Any] = {}
    for mode, done in runs.items():
        done.sort(key=lambda r: float(r["rate"]))
        results[mode] = {**done[len(done) // 2], "rates": [round(r["rate"]) for r in done]}
    return results


def table(products: int, results: Mapping[str, Any], start: str) -> dict[str, object]:
    """The flat measures the report prints (and stores as JSON)."""
    out: dict[str, object] = {"catalog products": f"{products:,}",
                              "index tables at the start": start}
    ours = results.get("ours")
    labels = {
        "ours": "ours: new generation table + Tantivy fed the rows (PG + Tantivy)",
        "queue": "ours: new generation table, Tantivy via engine_queue (PG + Tantivy)",
        "in_place": "previous: in-place keyset upsert, Tantivy via engine_queue",
        "baseline": "baseline: manifest per-entity indexer (PG only, "
                    f"first {results.get('baseline', {}).get('products', 0):,} products)",
        "tantivy_raw": "Tantivy alone: add + commit of the same documents (prebuilt)",
        "meilisearch": "Meilisearch: every tenant's index rebuilt from the index tables "
                       "(task queue, swap)",
    }
    for mode, result in results.items():
        out[f"{labels[mode]}: products/s"] = f"{result['rate']:,.0f}" + (
            f" (median of {', '.join(f'{r:,}' for r in result['rates'])})"
            if len(result["rates"]) > 1 else "")
        out[f"{labels[mode]}: products done"] = f"{result['products']:,}"
        out[f"{labels[mode]}: seconds"] = f"{result['seconds']:.1f}"
        out[f"{labels[mode]}: peak RSS MB"] = f"{result['peak_rss_mb']:.0f}"
        if "peak_anon_mb" in result:
            out[f"{labels[mode]}: of which heap (RssAnon) / mapped files (RssFile) MB"] = \
                f"{result['peak_anon_mb']:.0f} / {result['peak_file_mb']:.0f}"
        out[f"{labels[mode]}: machine load average"] = result["load_average"]
        if "meili_documents" in result:
            out[f"{labels[mode]}: documents in Meilisearch after"] = \
                f"{result['meili_documents']:,}"
        if "postgres_seconds" in result:
            out[f"{labels[mode]}: Postgres part products/s"] = \
                f"{result['products'] / result['postgres_seconds']:,.0f}"
            out[f"{labels[mode]}: verify drift / Tantivy docs"] = \
                f"{result['verify_drift']} / {result['tantivy_docs']:,}"
    if ours:
        rate = ours["rate"]
        out["ours vs target 15,000/s"] = f"{rate / TARGET_RATE:.0%}" + (
            "" if rate >= TARGET_RATE else f" (missed by {TARGET_RATE - rate:,.0f}/s)")
        if "baseline" in results:
            ratio = rate / results["baseline"]["rate"]
            out["ours / baseline (target >= 20x)"] = f"{ratio:.1f}x" + (
                "" if ratio >= TARGET_RATIO else f" (missed by {TARGET_RATIO - ratio:.1f}x)")
            out["baseline documents differing from ours"] = \
                results["baseline"]["documents_differing"]
        if "tantivy_raw" in results:
            raw = results["tantivy_raw"]
            out["ours as a fraction of Tantivy alone"] = f"{rate / raw['rate']:.0%}"
            out["Tantivy alone: row -> document mapping products/s"] = \
                f"{raw['products'] / raw['mapping_seconds']:,.0f}"
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=3)
    parser.add_argument("--baseline-products", type=int, default=5000,
                        help="the per-entity baseline runs on this many products")
    parser.add_argument("--workers", type=int, default=2, help="REINDEX_WORKERS for ours")
    parser.add_argument("--database", help="default bench_reindex_<products>")
    parser.add_argument("--start", choices=("empty", "full"), default="empty",
                        help="index tables empty (first indexing) or full (a reindex of a "
                        "live index) when ours, queue and in_place start")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every mode this many times, taking turns; report medians")
    parser.add_argument("--modes", default=",".join(DEFAULT_MODES),
                        help=f"comma-separated subset of {','.join(MODES)}")
    parser.add_argument("--child-timeout", type=float, default=CHILD_TIMEOUT_SECONDS,
                        help="seconds one measurement may take before its child is killed")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench reindex",
                                     description=(__doc__ or "").split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return
    modes = tuple(m for m in args.modes.split(",") if m)
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}")
    if "meilisearch" in modes and not os.environ.get("MEILISEARCH_URL"):
        parser.error("the meilisearch mode needs MEILISEARCH_URL (and MEILISEARCH_API_KEY)")
    modes = tuple(sorted(modes, key=MODES.index))
    name = args.database or f"bench_reindex_{args.products}"
    dsn = lifecycle.run(prepare_catalog(name, args.products, args.tenants))
    results = measure(dsn, args, modes, args.rounds)
    report("reindex", {"database": database_name(dsn), **table(args.products, results, args.start)})


if __name__ == "__main__":
    main()
