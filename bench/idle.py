"""The idle cost of a running service: the CPU that a relay, an indexer (with its Tantivy
follower) and an API, started as children on a scratch demo catalog, and the database's
PostgreSQL backends use while nothing is written or searched. Each round starts the group
twice, once with `--baseline-set` on top of the environment (by default
`TANTIVY_POLL_INTERVAL_MS=20`: the follower and the readers looking every 20 ms, as before
they were woken by NOTIFY and the commit channel) and once with the defaults, waits until the
API is ready and the engine queue is empty, lets `--warmup` seconds pass, then reads each
process's CPU (Linux /proc) over `--duration` seconds. Prints the median per process, as a
percentage of one core, for both, and the ratio of their totals.

    python -m bench idle [--duration 30] [--rounds 2] [--baseline-set VAR=VALUE ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import AsyncIterator, Mapping

import asyncpg

from bench import lifecycle
from bench.lifecycle import free_port, scratch, scratch_catalog, spawn_cli, stop_process
from bench.report import load_average, report
from bench.search_load import api_process, cpu_seconds

QUIET_TIMEOUT_SECONDS = 120.0


@contextlib.asynccontextmanager
async def service(env: Mapping[str, str]) -> AsyncIterator[dict[str, int]]:
    """A relay, an indexer and an API (Tantivy) as children, the API ready; their pids."""
    async with contextlib.AsyncExitStack() as stack:
        pids: dict[str, int] = {}
        for command in ("relay", "indexer"):
            proc = await spawn_cli(command, env)
            stack.push_async_callback(stop_process, proc)
            pids[command] = proc.pid
        _url, pids["api"] = await stack.enter_async_context(
            api_process("tantivy", free_port(), env))
        yield pids


async def quiet(pool: asyncpg.Pool) -> None:
    """Until the outbox is published and the engine queue empty (the demo catalog indexed)."""
    deadline = time.monotonic() + QUIET_TIMEOUT_SECONDS
    while await pool.fetchval(
            "SELECT (SELECT count(*) FROM engine_queue)"
            " + (SELECT count(*) FROM outbox WHERE published_at IS NULL)"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the service did not go idle in {QUIET_TIMEOUT_SECONDS:.0f} s")
        await asyncio.sleep(0.2)  # polling a condition with a deadline


async def measure(pool: asyncpg.Pool, pids: Mapping[str, int], seconds: float
                  ) -> dict[str, float]:
    """Each process's CPU over `seconds`, as a percentage of one core; `postgres`: the
    database's backends but the bench's own connection."""
    async with pool.acquire() as conn:
        others = [r["pid"] for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()")]
        groups = {**{name: [pid] for name, pid in pids.items()}, "postgres": others}

        def sample() -> dict[str, float]:
            out: dict[str, float] = {}
            for name, members in groups.items():
                out[name] = 0.0
                for pid in members:
                    with contextlib.suppress(OSError):  # a backend may have ended
                        out[name] += cpu_seconds(pid)
            return out

        before = sample()
        await asyncio.sleep(seconds)  # the measurement window itself
        after = sample()
    return {name: (after[name] - before[name]) / seconds * 100 for name in groups}


async def run(args: argparse.Namespace) -> dict[str, object]:
    names = scratch("rustok_bench_idle")
    env = names.env
    baseline = dict(item.split("=", 1) for item in args.baseline_set)
    modes = {"baseline": {**env, **baseline}, "default": env}
    found: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    load = os.getloadavg()
    async with contextlib.AsyncExitStack() as stack:
        _redis, pool = await scratch_catalog(stack, names.base, names.name, names.redis_url,
                                             names.settings.stream_prefix, names.tantivy_dir,
                                             args.products, args.products // 2, 2)
        for _ in range(args.rounds):
            for mode, mode_env in modes.items():
                async with service(mode_env) as pids:
                    await quiet(pool)
                    await asyncio.sleep(args.warmup)  # start-up work (rebuilds, first polls)
                    found[mode].append(await measure(pool, pids, args.duration))
    result: dict[str, object] = {"baseline_set": " ".join(args.baseline_set) or "(nothing)",
                                 "duration_s": args.duration, "rounds": args.rounds}
    totals: dict[str, float] = {}
    for mode, samples in found.items():
        for part in samples[0]:
            result[f"{mode}_{part}_cpu_percent"] = round(
                statistics.median(s[part] for s in samples), 2)
        totals[mode] = statistics.median(sum(s.values()) for s in samples)
        result[f"{mode}_total_cpu_percent"] = round(totals[mode], 2)
    ratio = totals["baseline"] / max(totals["default"], 1e-9)
    result["ratio_baseline_to_default"] = f"{ratio:.1f}x"
    result["load_average_1_5_15_at_start"] = load_average(load)
    result["load_average_1_5_15_at_end"] = load_average()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--baseline-set", action="append", default=None,
                        help="VAR=VALUE for the baseline group (repeatable; default "
                             "TANTIVY_POLL_INTERVAL_MS=20)")
    args = parser.parse_args()
    if args.baseline_set is None:
        args.baseline_set = ["TANTIVY_POLL_INTERVAL_MS=20"]
    report("idle", lifecycle.run(run(args)))
