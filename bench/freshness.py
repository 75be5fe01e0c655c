"""Freshness: commit-to-searchable time at a steady write rate. Product renames committed
through core_write by this process; relay and indexer (Tantivy) run as separate processes; a
Tantivy reader in this process (as the API would) polls for each renamed title. Prints a
Markdown table and writes JSON to bench/results/.

    python -m bench.freshness [--rate 200] [--duration 20] [--products 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import redis.asyncio as aioredis

from bench.report import report
from core_write.db import connect, create_pool, quote_ident, with_database
from core_write.demo import DemoSpec, load_demo
from core_write.migrations import migrate
from core_write.services import catalog
from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer.tantivy.engine import tantivy_config
from indexer.tantivy.reader import TantivyReader

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _buckets(text: str, backend: str) -> dict[float, float]:
    found = {}
    for line in text.splitlines():
        if line.startswith("rustok_index_lag_seconds_bucket") and f'backend="{backend}"' in line:
            bound = line.split('le="')[1].split('"')[0]
            found[float("inf") if bound == "+Inf" else float(bound)] = float(
                line.rsplit(" ", 1)[1])
    return found


def _histogram_quantiles(before: str, after: str, backend: str) -> dict[str, float]:
    """p50/p99 (upper bucket bound) of rustok_index_lag_seconds for one backend, over the
    observations made between two scrapes."""
    start, end = _buckets(before, backend), _buckets(after, backend)
    buckets = sorted((bound, count - start.get(bound, 0.0)) for bound, count in end.items())
    total = buckets[-1][1] if buckets else 0.0
    out = {}
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        out[name] = next((b for b, count in buckets if total and count >= q * total), 0.0)
    return out


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as page:
        return str(page.read().decode())


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace) -> dict[str, object]:
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/rustok")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"rustok_bench_{uuid.uuid4().hex[:8]}"
    dsn = with_database(base, name)
    tantivy_dir = tempfile.mkdtemp(prefix="rustok-fresh-")
    settings = Settings(DATABASE_URL=dsn, REDIS_URL=redis_url, RUSTOK_STREAM_PREFIX=f"bench:{name}",
                        TANTIVY_DIR=tantivy_dir)
    env = dict(os.environ, DATABASE_URL=dsn, REDIS_URL=redis_url,
               RUSTOK_STREAM_PREFIX=settings.stream_prefix, TANTIVY_DIR=tantivy_dir,
               RUSTOK_ENGINES="tantivy", RUSTOK_LOG_LEVEL="WARNING",
               RELAY_POLL_INTERVAL="0.5", RELAY_METRICS_PORT="0")
    metrics_port = _free_port()
    env["INDEXER_METRICS_PORT"] = str(metrics_port)
    redis = aioredis.Redis.from_url(redis_url)
    await migrate(dsn)
    pool = await create_pool(dsn, max_size=8)
    procs = []
    try:
        await load_demo(pool, DemoSpec(products=args.products, nodes=0, tenants=1, seed=1))
        products = [(r["tenant_id"], r["id"]) for r in await pool.fetch(
            "SELECT tenant_id, id FROM commerce_products")]
        for command in ("relay", "indexer"):
            procs.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "rustok_search.cli", command, cwd=ROOT, env=env))
        reader = TantivyReader(tantivy_config(settings), redis, settings.stream_prefix)
        await reader.start()
        tenant = products[0][0]
        deadline = time.monotonic() + 120
        while await reader.count(tenant) < len(products):
            if time.monotonic() > deadline:
                raise TimeoutError("the indexer did not load the catalog in time")
            await asyncio.sleep(0.1)
        core = CoreWrite(pool)
        outstanding: dict[str, float] = {}
        latencies: list[float] = []
        lags: list[int] = []
        writing = True
        rng = random.Random(5)
        scraped_before = await asyncio.to_thread(_scrape, metrics_port)
        rng.shuffle(products)

        async def write() -> None:
            nonlocal writing
            interval = 1 / args.rate
            start = time.perf_counter()
            slots = asyncio.Semaphore(16)  # writers in flight, as many web requests would be

            async def one(n: int, tenant_id: uuid.UUID, product_id: uuid.UUID) -> None:
                async with slots:
                    token = f"fresh{n}x{rng.randint(0, 10**6)}"
                    await core.call(catalog.update_product, tenant_id, product_id,
                                    {"title": f"Probe {token}"})
                    outstanding[token] = time.perf_counter()

            tasks = []
            for n in range(int(args.rate * args.duration)):
                await asyncio.sleep(max(0.0, start + n * interval - time.perf_counter()))
                # round robin: a product is renamed again only long after its last probe
                tasks.append(asyncio.create_task(one(n, *products[n % len(products)])))
            await asyncio.gather(*tasks)
            writing = False

        async def check() -> None:
            while writing or outstanding:
                for token, committed in list(outstanding.items()):
                    if await reader.search(tenant, token, limit=1):
                        latencies.append(time.perf_counter() - committed)
                        del outstanding[token]
                await asyncio.sleep(0.001)

        async def sample_lag() -> None:
            while writing:
                groups = await redis.xinfo_groups(settings.stream)
                lags.append(int(next(g for g in groups if g["name"] == b"indexer")
                                .get("lag") or 0))
                await asyncio.sleep(1)

        try:
            await asyncio.wait_for(asyncio.gather(write(), check(), sample_lag()),
                                   timeout=args.duration + 60)
        except TimeoutError:
            print(f"never found {len(outstanding)} of {len(outstanding) + len(latencies)}: "
                  f"{list(outstanding)[:3]}", file=sys.stderr)
            probe = list(outstanding)[0]
            row = await pool.fetchrow("SELECT title, tenant_id FROM index_products "
                                      "WHERE title LIKE $1", f"%{probe}%")
            print("index row:", row, "tenant", tenant, file=sys.stderr)
            raise
        await reader.close()
        scraped_after = await asyncio.to_thread(_scrape, metrics_port)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            await proc.wait()
        await pool.close()
        for key in [k async for k in redis.scan_iter(f"{settings.stream_prefix}:*")]:
            await redis.delete(key)
        await redis.aclose()
        admin = await connect(with_database(base, "postgres"))
        await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        await admin.close()
        shutil.rmtree(tantivy_dir, ignore_errors=True)
    ms = [x * 1000 for x in latencies]
    half = len(lags) // 2
    return {
        "rate_per_s": args.rate, "duration_s": args.duration, "writes": len(ms),
        "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(_quantile(ms, 0.95), 1),
        "p99_ms": round(_quantile(ms, 0.99), 1), "max_ms": round(max(ms), 1),
        **{f"indexer_lag_{backend}_{q}_le_s": value
           for backend in ("postgres", "tantivy")
           for q, value in _histogram_quantiles(scraped_before, scraped_after, backend).items()},
        "group_lag_first_half_max": max(lags[:half] or [0]),
        "group_lag_second_half_max": max(lags[half:] or [0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--products", type=int, default=500)
    args = parser.parse_args()
    report("freshness", asyncio.run(run(args)))


if __name__ == "__main__":
    main()
