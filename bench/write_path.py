"""Write path + relay throughput: the demo loader's realistic mix of service calls committed
by parallel writers while a relay process publishes them, then the relay alone draining a
backlog of the same events. Prints a Markdown table and writes JSON to bench/results/.
With `--capture both` the whole run is made twice, with the capture triggers of migration
0013 and without them (dropped), and each run also times plain-SQL writes (what a writer
outside core_write pays for capture).

    python -m bench.write_path [--products 2000 --nodes 1000 --tenants 3 --concurrency 4]
                               [--capture on|off|both]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
import uuid

import asyncpg
import redis.asyncio as aioredis

from bench import lifecycle
from bench.lifecycle import close_pool, delete_keys, drop_database, spawn_cli, stop_process
from bench.queries import QUERIES
from bench.report import report
from core_write.db import create_pool, with_database
from core_write.migrations import migrate
from rustok_search.demo_writer import DemoSpec, load_demo

SQL_UPDATES = 500
"""Single-row plain-SQL UPDATEs timed per run (each its own transaction)."""
PUBLISH_TIMEOUT_SECONDS = 120.0
"""How long the relay may take to publish every event once the writes are done."""


async def _spawn_relay(dsn: str, redis_url: str, prefix: str) -> asyncio.subprocess.Process:
    return await spawn_cli("relay", dict(
        os.environ, DATABASE_URL=dsn, REDIS_URL=redis_url, RUSTOK_STREAM_PREFIX=prefix,
        RUSTOK_LOG_LEVEL="WARNING", RELAY_METRICS_PORT="0"))


async def _wait_published(pool: asyncpg.Pool, relay: asyncio.subprocess.Process, total: int,
                          timeout: float) -> float:
    """When every outbox row was published (perf_counter); fails after `timeout` seconds
    or if the relay exits."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL") \
                >= total:
            return time.perf_counter()
        if relay.returncode is not None:
            raise RuntimeError(f"the relay exited with {relay.returncode}")
        await asyncio.sleep(0.02)  # polling a condition with a deadline
    raise TimeoutError(f"the relay did not publish {total} events in {timeout:.0f} s")


async def _sql_writes(pool: asyncpg.Pool) -> dict[str, object]:
    """What capture costs a plain-SQL writer: single-row UPDATEs of product titles, each
    committed alone, then UPDATEs of every product in one statement, in alternating blocks
    with the triggers recording and with `rustok.capture = off` (the triggers return at
    once), so the load of the machine weighs on both alike."""
    ids = [r["id"] for r in await pool.fetch(
        "SELECT id FROM commerce_products ORDER BY id LIMIT $1", SQL_UPDATES)]
    single = {"on": 0.0, "off": 0.0}
    bulk = {"on": 0.0, "off": 0.0}
    block = max(1, len(ids) // 10)
    async with pool.acquire() as conn:
        for start in range(0, len(ids), block):
            for mode in ("on", "off"):
                await conn.execute("SELECT set_config('rustok.capture', $1, false)", mode)
                began = time.perf_counter()
                for product_id in ids[start:start + block]:
                    await conn.execute("UPDATE commerce_products SET title = title || $2 "
                                       "WHERE id = $1", product_id, mode[-1])
                single[mode] += time.perf_counter() - began
        for _ in range(3):
            for mode in ("on", "off"):
                await conn.execute("SELECT set_config('rustok.capture', $1, false)", mode)
                began = time.perf_counter()
                rows = await conn.execute("UPDATE commerce_products SET title = title || '!'")
                bulk[mode] += (time.perf_counter() - began) / 3
        await conn.execute("RESET rustok.capture")
    return {
        "sql_single_row_updates_per_s": (f"{len(ids) / single['on']:.0f} capture on / "
                                         f"{len(ids) / single['off']:.0f} off"),
        "sql_bulk_update_rows": int(rows.split()[-1]),
        "sql_bulk_update_s": f"{bulk['on']:.3f} capture on / {bulk['off']:.3f} off",
    }


async def run(args: argparse.Namespace, capture: bool = True) -> dict[str, object]:
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/rustok")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"rustok_bench_{uuid.uuid4().hex[:8]}"
    dsn = with_database(base, name)
    prefix = f"bench:{name}"
    # undone in reverse order whatever happens: the relay, the pool, the keys, the database
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(drop_database, base, name)
        redis = aioredis.Redis.from_url(redis_url)
        stack.push_async_callback(redis.aclose)
        stack.push_async_callback(delete_keys, redis, f"{prefix}*")
        await migrate(dsn)
        pool = await create_pool(dsn, max_size=args.concurrency + 4)
        stack.push_async_callback(close_pool, pool)
        if not capture:
            await pool.execute(QUERIES["drop_capture_triggers"])
        relay = await _spawn_relay(dsn, redis_url, prefix)
        stack.push_async_callback(stop_process, relay)
        started = time.perf_counter()
        await load_demo(pool, DemoSpec(args.products, args.nodes, args.tenants, args.seed,
                                       args.concurrency))
        written = time.perf_counter()
        total = int(await pool.fetchval("SELECT count(*) FROM outbox"))
        drained = await _wait_published(pool, relay, total, PUBLISH_TIMEOUT_SECONDS)
        await stop_process(relay)

        # the relay alone: the same events, all unpublished, onto a fresh stream
        await pool.execute("UPDATE outbox SET published_at = NULL, stream_ms = NULL, "
                           "stream_seq = NULL, acked_at = NULL")
        await pool.execute("DELETE FROM relay_state")
        alone_prefix = prefix + ":alone"
        alone_start = time.perf_counter()
        relay = await _spawn_relay(dsn, redis_url, alone_prefix)
        stack.push_async_callback(stop_process, relay)
        alone_end = await _wait_published(pool, relay, total, PUBLISH_TIMEOUT_SECONDS)
        await stop_process(relay)
        stream_len = await redis.xlen(f"{alone_prefix}:events")
        first_ms, last_ms = await pool.fetchrow("SELECT min(stream_ms), max(stream_ms) FROM outbox")
        sql_writes = await _sql_writes(pool) if capture else {}
    write_s, lag_s, alone_s = written - started, drained - written, alone_end - alone_start
    publishing_s = max((last_ms - first_ms) / 1000, 1e-3)
    return {
        "products": args.products, "nodes": args.nodes, "tenants": args.tenants,
        "writers": args.concurrency, "events": total, "stream_entries_alone": stream_len,
        "write_seconds": round(write_s, 2), "write_events_per_s": round(total / write_s),
        "published_after_last_write_s": round(lag_s, 3),
        "end_to_end_events_per_s": round(total / (drained - started)),
        "relay_alone_seconds_with_start": round(alone_s, 2),
        "relay_alone_events_per_s_with_start": round(total / alone_s),
        "relay_alone_first_to_last_publish_s": round(publishing_s, 3),
        "relay_alone_publishing_events_per_s": round(total / publishing_s),
        "capture": "on" if capture else "off", **sql_writes,
    }


async def run_modes(args: argparse.Namespace) -> dict[str, object]:
    """One run per capture mode asked for; with both, each measure once per mode."""
    modes = {"on": [True], "off": [False], "both": [True, False]}[args.capture]
    results = [await run(args, capture) for capture in modes]
    if len(results) == 1:
        return results[0]
    on, off = results
    merged: dict[str, object] = {"capture": "triggers on / triggers dropped"}
    for key in on.keys() - {"capture"}:
        if key in off:
            merged[key] = on[key] if on[key] == off[key] else f"{on[key]} on / {off[key]} off"
        else:
            merged[key] = on[key]
    return {key: merged[key] for key in on}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--capture", choices=("on", "off", "both"), default="on",
                        help="with the capture triggers (as migrated), without, or both")
    args = parser.parse_args()
    report("write_path", lifecycle.run(run_modes(args)))


if __name__ == "__main__":
    main()
