"""Recovery: how long after an indexer is SIGKILLed in the middle of a batch, under a steady
write load through core_write, every event committed before the kill is indexed. A relay and
`--indexers` indexer processes run (Postgres index only, no engine: the consumer is what is
measured); each round waits until the victim holds pending entries, kills it, times until no
outbox row up to the kill is left unindexed (`outbox.indexed_at`) and until no entry is
pending at the victim any more, and starts a replacement under a new name. Prints a Markdown
table and writes JSON to bench/results/.

    python -m bench recovery [--rounds 3] [--rate 100] [--indexers 2] [--source DIR]
        [--set VAR=VALUE ...]

`--source DIR` runs the relay and indexers from another checkout (e.g. `git archive main`
unpacked in /tmp) to compare before and after with the same command.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

from bench import lifecycle
from bench.report import report
from core_write.db import create_pool, with_database
from core_write.migrations import migrate
from core_write.services import catalog
from core_write.unit import CoreWrite
from rustok_search.demo_writer import DemoSpec, load_demo

GROUP = "indexer"


@dataclass
class Fleet:
    """The relay and indexer processes of one run."""

    env: dict[str, str]
    source: Path
    procs: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    started: int = 0

    async def start(self, role: str) -> str:
        self.started += 1
        name = f"{role}-{self.started}"
        self.procs[name] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "rustok_search.cli", role, cwd=self.source,
            env=dict(self.env, INDEXER_CONSUMER_NAME=name), stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, preexec_fn=lifecycle.die_with_parent)
        return name

    def indexers(self) -> list[str]:
        return [n for n, p in self.procs.items() if n.startswith("indexer") and
                p.returncode is None]

    async def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        await self.procs[name].wait()

    async def stop(self) -> None:
        await asyncio.gather(*(lifecycle.stop_process(p) for p in self.procs.values()))


@dataclass
class Round:
    victim: str
    orphaned: int
    """Entries pending at the victim when it was killed."""
    seconds: float
    """From the kill until every event committed before it is indexed."""
    taken_over: float
    """From the kill until no entry is pending at the victim any more."""


async def _pending_at(redis: aioredis.Redis, stream: str, name: str) -> int:
    rows = await redis.xpending_range(stream, GROUP, min="-", max="+", count=10_000,
                                      consumername=name)
    return len(rows)


async def _unindexed(pool: asyncpg.Pool, upto: int) -> int:
    return int(await pool.fetchval(
        "SELECT count(*) FROM outbox WHERE seq <= $1 AND indexed_at IS NULL", upto))


async def _until(what: str, timeout: float, check: Callable[[], Awaitable[bool]]) -> float:
    """Seconds until `check` is true (polled every 20 ms)."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.02)  # polling a condition against a deadline
    return time.monotonic() - started


async def _write_load(core: CoreWrite, tenant: uuid.UUID, products: list[uuid.UUID],
                      rate: float, stop: asyncio.Event) -> None:
    """Product renames at `rate` per second until `stop`."""
    made = 0
    started = time.monotonic()
    while not stop.is_set():
        await core.call(catalog.update_product, tenant, products[made % len(products)],
                        {"title": f"Recovery probe {made}"})
        made += 1
        ahead = started + made / rate - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)  # pacing the write rate


async def measure(dsn: str, redis_url: str, prefix: str, *, rounds: int, rate: float,
                  indexers: int, source: Path, settings: Mapping[str, str],
                  timeout: float = 120.0) -> list[Round]:
    """Kill an indexer `rounds` times under the write load; the database `dsn` is migrated
    and loaded here."""
    await migrate(dsn)
    pool = await create_pool(dsn, max_size=8)
    redis = aioredis.Redis.from_url(redis_url)
    stream = f"{prefix}:events"
    env = dict(os.environ, DATABASE_URL=dsn, REDIS_URL=redis_url, RUSTOK_STREAM_PREFIX=prefix,
               RUSTOK_ENGINES="", SEARCH_BACKEND="postgres", RUSTOK_LOG_LEVEL="ERROR",
               RELAY_METRICS_PORT="0", INDEXER_METRICS_PORT="0", RELAY_POLL_INTERVAL="0.1",
               INDEXER_BATCH_SIZE="50", PYTHONPATH=str(source))
    env.update(settings)
    fleet = Fleet(env, source)
    stop = asyncio.Event()
    results: list[Round] = []
    writing: asyncio.Task[None] | None = None
    try:
        await load_demo(pool, DemoSpec(products=60, nodes=0, tenants=1, seed=5))
        tenant = await pool.fetchval("SELECT id FROM tenants LIMIT 1")
        products = [r["id"] for r in await pool.fetch("SELECT id FROM commerce_products")]
        await fleet.start("relay")
        for _ in range(indexers):
            await fleet.start("indexer")
        writing = asyncio.create_task(
            _write_load(CoreWrite(pool), tenant, products, rate, stop))
        for _ in range(rounds):
            top = int(await pool.fetchval("SELECT max(seq) FROM outbox"))

            async def indexed(upto: int) -> bool:
                return await _unindexed(pool, upto) == 0

            await _until("the pipeline to index the load", timeout, partial(indexed, top))
            victim = fleet.indexers()[0]

            held = [0]

            async def busy(victim: str = victim, held: list[int] = held) -> bool:
                held[0] = await _pending_at(redis, stream, victim)
                return held[0] > 0

            await _until(f"{victim} to hold pending entries", timeout, busy)
            upto = int(await pool.fetchval("SELECT max(seq) FROM outbox"))
            await fleet.kill(victim)
            orphaned = held[0]


            async def released(victim: str = victim) -> bool:
                return await _pending_at(redis, stream, victim) == 0

            seconds, taken_over = await asyncio.gather(
                _until("the events committed before the kill to be indexed", timeout,
                       partial(indexed, upto)),
                _until(f"the entries of {victim} to be taken over", timeout, released))
            results.append(Round(victim, orphaned, seconds, taken_over))
            await fleet.start("indexer")
    finally:
        stop.set()
        if writing is not None:
            await lifecycle.stop_tasks([writing])
        await fleet.stop()
        await lifecycle.delete_keys(redis, f"{prefix}:*")
        await redis.aclose()
        await lifecycle.close_pool(pool)
    return results


async def run(args: argparse.Namespace) -> dict[str, object]:
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/rustok")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"rustok_bench_recovery_{uuid.uuid4().hex[:8]}"
    settings = dict(item.split("=", 1) for item in args.set)
    source = Path(args.source)
    try:
        rounds = await measure(with_database(base, name), redis_url, f"bench:{name}",
                               rounds=args.rounds, rate=args.rate, indexers=args.indexers,
                               source=source, settings=settings)
    finally:
        await lifecycle.drop_database(base, name)
    times = [r.seconds for r in rounds]
    result: dict[str, object] = {
        "source": str(source), "settings": settings,
        "write rate (/s)": args.rate, "indexers": args.indexers,
        "entries pending at the victim": [r.orphaned for r in rounds],
        "convergence after SIGKILL (s)": [round(t, 2) for t in times],
        "median (s)": round(statistics.median(times), 2), "max (s)": round(max(times), 2),
        "victim's entries taken over after (s)": [round(r.taken_over, 2) for r in rounds],
        "load average": os.getloadavg()[0],
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench recovery", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=100.0, help="writes per second")
    parser.add_argument("--indexers", type=int, default=2)
    parser.add_argument("--source", default=str(lifecycle.ROOT),
                        help="the checkout the relay and indexers run from")
    parser.add_argument("--set", action="append", default=[], metavar="VAR=VALUE",
                        help="a setting for the relay and indexers")
    args = parser.parse_args()
    args.source = os.path.abspath(args.source)
    report("recovery", lifecycle.run(run(args)))


if __name__ == "__main__":
    main()
