"""Write path + relay throughput: the demo loader's realistic mix of service calls committed
by parallel writers while a relay process publishes them, then the relay alone draining a
backlog of the same events. Prints a Markdown table and writes JSON to bench/results/.

    python -m bench.write_path [--products 2000 --nodes 1000 --tenants 3 --concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import redis.asyncio as aioredis

from bench.report import report
from core_write.db import connect, create_pool, quote_ident, with_database
from core_write.demo import DemoSpec, load_demo
from core_write.migrations import migrate

ROOT = Path(__file__).resolve().parent.parent


async def _spawn_relay(dsn: str, redis_url: str, prefix: str) -> asyncio.subprocess.Process:
    env = dict(os.environ, DATABASE_URL=dsn, REDIS_URL=redis_url, RUSTOK_STREAM_PREFIX=prefix,
               RUSTOK_LOG_LEVEL="WARNING", RELAY_METRICS_PORT="0")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rustok_search.cli", "relay", cwd=ROOT, env=env)


async def _wait_published(pool: object, total: int, deadline: float) -> float:
    while time.perf_counter() < deadline:
        done = await pool.fetchval(  # type: ignore[attr-defined]
            "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
        if done >= total:
            return time.perf_counter()
        await asyncio.sleep(0.02)
    raise TimeoutError("relay did not publish everything in time")


async def run(args: argparse.Namespace) -> dict[str, object]:
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/rustok")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"rustok_bench_{uuid.uuid4().hex[:8]}"
    dsn = with_database(base, name)
    prefix = f"bench:{name}"
    redis = aioredis.Redis.from_url(redis_url)
    await migrate(dsn)
    pool = await create_pool(dsn, max_size=args.concurrency + 4)
    try:
        relay = await _spawn_relay(dsn, redis_url, prefix)
        started = time.perf_counter()
        await load_demo(pool, DemoSpec(args.products, args.nodes, args.tenants, args.seed,
                                       args.concurrency))
        written = time.perf_counter()
        total = int(await pool.fetchval("SELECT count(*) FROM outbox"))
        drained = await _wait_published(pool, total, written + 120)
        relay.send_signal(signal.SIGTERM)
        await relay.wait()

        # the relay alone: the same events, all unpublished, onto a fresh stream
        await pool.execute("UPDATE outbox SET published_at = NULL, stream_ms = NULL, "
                           "stream_seq = NULL, acked_at = NULL")
        await pool.execute("DELETE FROM relay_state")
        alone_prefix = prefix + ":alone"
        relay = await _spawn_relay(dsn, redis_url, alone_prefix)
        alone_start = time.perf_counter()
        alone_end = await _wait_published(pool, total, alone_start + 120)
        relay.send_signal(signal.SIGTERM)
        await relay.wait()
        stream_len = await redis.xlen(f"{alone_prefix}:events")
    finally:
        await pool.close()
        for key in [k async for k in redis.scan_iter(f"{prefix}*")]:
            await redis.delete(key)
        await redis.aclose()
        admin = await connect(with_database(base, "postgres"))
        await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        await admin.close()
    write_s, lag_s, alone_s = written - started, drained - written, alone_end - alone_start
    return {
        "products": args.products, "nodes": args.nodes, "tenants": args.tenants,
        "writers": args.concurrency, "events": total, "stream_entries_alone": stream_len,
        "write_seconds": round(write_s, 2), "write_events_per_s": round(total / write_s),
        "published_after_last_write_s": round(lag_s, 3),
        "end_to_end_events_per_s": round(total / (drained - started)),
        "relay_alone_seconds": round(alone_s, 2),
        "relay_alone_events_per_s": round(total / alone_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    report("write_path", asyncio.run(run(args)))


if __name__ == "__main__":
    main()
