"""Freshness: commit-to-searchable time under a steady stream of writes through core_write, a
realistic mix (price and stock changes, renames, content edits, new products, deletes). The
relay and the indexer (Tantivy engine) run as separate processes; a Tantivy reader in this
process, the API's `TantivyReader`, checks after each of its reloads whether each pending
write is visible. With `--engine meilisearch` (needs `MEILISEARCH_URL`, and
`MEILISEARCH_API_KEY` for a server with a master key) the indexer feeds Meilisearch alone and
the pending writes are looked up in the tenant's Meilisearch indexes every
`MEILI_POLL_SECONDS`: commit to searchable through Meilisearch's task queue. Also samples the
consumer group's lag. Prints a Markdown table and writes JSON to bench/results/.

    python -m bench.freshness [--rate 500] [--duration 60] [--products 1500] [--nodes 300]
        [--engine tantivy|meilisearch]
        [--converge-timeout 60] [--extra-wait 60]
        [--name-prefix rustok_bench] [--metrics-port 0] [--set VAR=VALUE ...]

Writes are issued at `--rate` for `--duration` seconds by 16 writers; one not started by then
is "never issued" (the writers fell behind), and the rate achieved is reported. The wait for
every committed write to become visible has its own deadline, `--converge-timeout` seconds
after the last write; on a miss the indexer runs up to `--extra-wait` seconds more, to tell a
slow pipeline (the writes show up) from lost writes (they do not; the report says how far
each got). `--set` passes settings to the relay and indexer (e.g.
`--set TANTIVY_COMMIT_INTERVAL_MS=20`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import resource
import sys
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import redis.asyncio as aioredis
import tantivy
from meilisearch_python_sdk.errors import MeilisearchApiError

from bench import lifecycle
from bench.fates import Fate, Ledger, stage_reached, verdict, write_rate
from bench.freshness_stats import histogram_quantiles, stage_times, summary_ms
from bench.freshness_writes import MIX, Probe, Targets, find_targets, write
from bench.lifecycle import (
    free_port,
    scratch_catalog,
    spawn_cli,
    stop_process,
    stop_tasks,
)
from bench.report import report
from core_write.db import with_database
from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer.meili import client as meili
from indexer.meili.config import index_uid, meili_config
from indexer.model import DOC_TYPES, DocType
from indexer.tantivy.config import commit_channel
from indexer.tantivy.engine import tantivy_config
from indexer.tantivy.query import tenant_scoped
from indexer.tantivy.reader import TantivyReader
from indexer.tantivy.schema import stored_values
from search_api.backends import SearchBackend
from search_api.backends.meilisearch import MeilisearchBackend
from search_api.backends.tantivy import TantivyBackend
from search_api.model import SearchQuery
from search_api.scope import SearchScope

WRITERS = 16
"""Writes in flight at most, as many web requests would be."""
WRITE_GRACE_SECONDS = 30.0
"""How long the writes in flight at the end of the write window may take to finish."""
CATALOG_LOAD_SECONDS = 180.0
"""How long the indexer may take to make the demo catalog searchable before the writes."""
MEILI_POLL_SECONDS = 0.01
"""How often the pending writes are looked up in Meilisearch (its documents, by id)."""


def _stored(index: tantivy.Index | None, doc_type: DocType, tenant: uuid.UUID,
            ids: list[uuid.UUID]) -> list[dict[str, Any] | None]:
    """The stored values of each id in the tenant's documents as the API's reader sees them
    now (None: not there), from one searcher (blocking: run it in a thread)."""
    if index is None:
        return [None] * len(ids)
    searcher = index.searcher()
    out: list[dict[str, Any] | None] = []
    for doc_id in ids:
        query = tenant_scoped(index.schema, tenant, tantivy.Query.term_query(
            index.schema, "id", str(doc_id)))
        hits = searcher.search(query, 1).hits
        out.append(stored_values(doc_type, searcher.doc(hits[0][1]).to_dict()) if hits
                   else None)
    return out


Stored = Callable[[DocType, uuid.UUID, list[uuid.UUID]],
                  Awaitable[list[dict[str, Any] | None]]]
"""The document of each id as the searches see it now (None: not there)."""


def tantivy_stored(reader: TantivyReader) -> Stored:
    async def stored(doc_type: DocType, tenant: uuid.UUID,
                     ids: list[uuid.UUID]) -> list[dict[str, Any] | None]:
        return await asyncio.to_thread(_stored, reader.index(doc_type), doc_type, tenant, ids)
    return stored


def meili_stored(backend: MeilisearchBackend) -> Stored:
    """Documents by id from the tenant's live Meilisearch index (one request per type)."""
    async def stored(doc_type: DocType, tenant: uuid.UUID,
                     ids: list[uuid.UUID]) -> list[dict[str, Any] | None]:
        index = backend.client.index(index_uid(backend.config.prefix, tenant, doc_type))
        try:
            found = await index.get_documents(ids=[str(i) for i in ids], limit=len(ids))
        except MeilisearchApiError as exc:
            if meili.is_not_found(exc):
                return [None] * len(ids)
            raise
        by_id = {str(doc["id"]): doc for doc in found.results}
        return [by_id.get(str(i)) for i in ids]
    return stored


def _cpu_seconds() -> float:
    """CPU time this process used so far (its event loop and threads: writers, checker)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _scrape(port: int) -> str | None:
    """The indexer's metrics page; None if it does not answer (a stuck indexer must not
    cost the report)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
            return str(page.read().decode())
    except OSError as exc:  # URLError and timeouts included
        print(f"the indexer's metrics did not answer: {exc}", file=sys.stderr)
        return None


@dataclass
class Watch:
    """The committed writes the reader does not show yet, and those it showed (with their
    commit-to-visible seconds). `late`: writes seen from now on count as seen late."""

    ledger: Ledger
    targets: Targets
    pending: dict[int, Probe] = field(default_factory=dict)
    seen: list[tuple[Probe, float]] = field(default_factory=list)
    late: bool = False

    def committed(self, n: int, probe: Probe) -> None:
        self.ledger.commit(n, probe.committed)
        self.pending[n] = probe

    async def check(self, stored: Stored, at: float) -> None:
        """One pass over the pending writes; a write found now became visible at `at`."""
        for doc_type in DOC_TYPES:
            probes = [(n, p) for n, p in self.pending.items() if p.doc_type == doc_type]
            if not probes:
                continue
            docs = await stored(doc_type, self.targets.tenant, [p.doc_id for _, p in probes])
            for (n, probe), doc in zip(probes, docs, strict=True):
                if not probe.visible(doc):
                    continue
                # a write can show up before this process saw its call return (its event
                # loop busy): visible at once, as far as its caller could tell
                self.seen.append((probe, max(0.0, at - probe.committed)))
                self.ledger.see(n, late=self.late)
                del self.pending[n]
                self.targets.busy.discard(probe.doc_id)
                if probe.kind == "create":
                    self.targets.created.append(probe.doc_id)

    async def follow(self, reader: TantivyReader) -> None:
        """Check after each of the reader's reloads (and every 100 ms in case one was
        missed), until cancelled."""
        seen, last = -1, 0.0
        while True:
            reloads = reader.reloads + reader.reopens
            if reloads == seen and time.perf_counter() - last < 0.1:
                await asyncio.sleep(0.001)  # waiting for the reader's next reload
                continue
            seen, last = reloads, time.perf_counter()
            await self.check(tantivy_stored(reader), last)

    async def poll(self, stored: Stored) -> None:
        """Check every MEILI_POLL_SECONDS (an engine that tells nobody when it commits), until
        cancelled; a write found is counted visible at the start of the look-up that found
        it."""
        while True:
            await self.check(stored, time.perf_counter())
            await asyncio.sleep(MEILI_POLL_SECONDS)  # the polling interval
    async def drained(self, checker: asyncio.Task[None], timeout: float) -> bool:
        """Whether every committed write became visible within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.pending:
            if checker.done():
                checker.result()  # its error, if it failed
                raise RuntimeError("the visibility checker stopped")
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)  # polling a condition with a deadline
        return True


async def write_phase(core: CoreWrite, watch: Watch, rate: float,
                      duration: float) -> tuple[float, float]:
    """Issue the planned writes at `rate` for `duration` seconds from WRITERS writers, then
    let the ones in flight finish (within WRITE_GRACE_SECONDS, the rest are cancelled);
    returns when the writes started and when their window ended (perf_counter)."""
    ledger, targets = watch.ledger, watch.targets
    kinds, weights = zip(*MIX, strict=True)
    rng = random.Random(5)
    slots = asyncio.Semaphore(WRITERS)
    started = time.perf_counter()
    window_end = started + duration

    async def one(n: int, kind: str) -> None:
        async with slots:
            if time.perf_counter() >= window_end:
                return  # never issued: the writers were behind the rate
            ledger.issue(n)
            try:
                probe = await write(core, targets, kind, n)
            except Exception as exc:  # a refused write is a result of the run, not its end
                ledger.fail(n, exc)
                return
        if probe is None:
            ledger.skip(n)
        else:
            watch.committed(n, probe)

    tasks: list[asyncio.Task[None]] = []
    try:
        for n in range(ledger.planned):
            due = started + n / rate
            if time.perf_counter() >= window_end:
                break
            await asyncio.sleep(max(0.0, due - time.perf_counter()))  # the write schedule
            tasks.append(asyncio.create_task(one(n, rng.choices(kinds, weights)[0]),
                                             name=f"write-{n}"))
        if tasks:
            await asyncio.wait(tasks, timeout=WRITE_GRACE_SECONDS)
    finally:
        await stop_tasks(tasks)  # still in flight: cancelled, outcome unknown
    return started, window_end


def _all_visible_after(watch: Watch) -> float | str:
    """Seconds from the last commit to the moment the last write became visible."""
    if not watch.seen or watch.ledger.last_commit is None:
        return "-"
    last_visible = max(probe.committed + latency for probe, latency in watch.seen)
    return round(max(0.0, last_visible - watch.ledger.last_commit), 2)


async def _wait_catalog(backend: SearchBackend, tenant: uuid.UUID, products: int,
                        procs: list[asyncio.subprocess.Process]) -> None:
    deadline = time.monotonic() + CATALOG_LOAD_SECONDS
    # the API's view: every document of the tenant
    everything, scope = SearchQuery(per_page=1), SearchScope(tenant_id=tenant, include_drafts=True)
    while (await backend.search(everything, scope)).total < products:
        if any(proc.returncode is not None for proc in procs):
            raise RuntimeError("the relay or the indexer exited before the catalog was loaded")
        if time.monotonic() > deadline:
            raise TimeoutError("the indexer did not load the catalog in time")
        await asyncio.sleep(0.1)  # polling the catalog load with a deadline


async def _lost_stages(pool: asyncpg.Pool, probes: list[Probe]) -> list[str]:
    rows = {r["seq"]: r for r in await pool.fetch(
        "SELECT seq, published_at AS published, indexed_at AS indexed FROM outbox "
        "WHERE seq = ANY($1::bigint[])", [p.token for p in probes if p.token is not None])}
    return [stage_reached(rows.get(p.token)) for p in probes]


async def run(args: argparse.Namespace) -> dict[str, object]:
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/rustok")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"{args.name_prefix}_{uuid.uuid4().hex[:8]}"
    dsn = with_database(base, name)
    tantivy_dir = f"/tmp/{name}"
    settings = Settings(DATABASE_URL=dsn, REDIS_URL=redis_url, RUSTOK_STREAM_PREFIX=f"bench:{name}",
                        TANTIVY_DIR=tantivy_dir)
    metrics_port = args.metrics_port or free_port()
    env = dict(os.environ, DATABASE_URL=dsn, REDIS_URL=redis_url,
               RUSTOK_STREAM_PREFIX=settings.stream_prefix, TANTIVY_DIR=tantivy_dir,
               RUSTOK_ENGINES=args.engine, RUSTOK_LOG_LEVEL="WARNING", RELAY_METRICS_PORT="0",
               INDEXER_METRICS_PORT=str(metrics_port))
    if args.engine == "tantivy":  # MEILISEARCH_URL would add Meilisearch to the engines
        env.pop("MEILISEARCH_URL", None)
    env.update(item.split("=", 1) for item in args.set)
    # everything is undone in reverse order, whatever happens: the checker tasks, then the
    # reader, then its Redis client (a reader left following a closed client warns and
    # keeps the loop from ending), the children, the pool, the keys, the database
    async with contextlib.AsyncExitStack() as stack:
        redis, pool = await scratch_catalog(stack, base, name, redis_url, settings.stream_prefix,
                                            tantivy_dir, args.products, args.nodes, 20)
        targets = await find_targets(pool)
        procs = [await spawn_cli(command, env) for command in ("relay", "indexer")]
        for proc in procs:
            stack.push_async_callback(stop_process, proc)
        backend: SearchBackend
        if args.engine == "meilisearch":
            meili_settings = settings.model_copy(update={
                "meilisearch_url": os.environ["MEILISEARCH_URL"],
                "meilisearch_api_key": os.environ.get("MEILISEARCH_API_KEY", "")})
            meilisearch = await stack.enter_async_context(
                MeilisearchBackend(meili_config(meili_settings)))
            backend = meilisearch
            engine = Engine(meili_stored(meilisearch), None, backend)
        else:
            reader = await stack.enter_async_context(
                TantivyReader(tantivy_config(settings), redis, settings.stream_prefix))
            backend = TantivyBackend(reader)
            engine = Engine(tantivy_stored(reader), reader, backend)
        await _wait_catalog(backend, targets.tenant,
                            await pool.fetchval("SELECT count(*) FROM commerce_products"), procs)
        result = await _measure(args, settings, pool, redis, engine, targets, metrics_port,
                                stack)
        if args.engine == "meilisearch":
            await _drop_meili_indexes(engine, settings)
    return {"engine": args.engine, **result}


@dataclass(frozen=True)
class Engine:
    """Where the writes are looked for: a Tantivy reader (checked after each reload) or
    Meilisearch (polled)."""

    stored: Stored
    reader: TantivyReader | None
    backend: SearchBackend


async def _drop_meili_indexes(engine: Engine, settings: Settings) -> None:
    """The scratch tenants' Meilisearch indexes (this run's prefix) go with the database."""
    assert isinstance(engine.backend, MeilisearchBackend)
    client = engine.backend.client
    prefix = meili_config(settings).prefix + "_"
    for index in await client.get_indexes(limit=1000) or []:
        if index.uid.startswith(prefix):
            await client.index(index.uid).delete()


async def _measure(args: argparse.Namespace, settings: Settings, pool: asyncpg.Pool,
                   redis: aioredis.Redis, engine: Engine, targets: Targets,
                   metrics_port: int, stack: contextlib.AsyncExitStack) -> dict[str, object]:
    watch = Watch(Ledger(int(args.rate * args.duration)), targets)
    announced: list[float] = []  # wall times of the engine writer's commit messages
    lags: list[int] = []

    async def listen() -> None:
        pubsub = redis.pubsub()
        await pubsub.subscribe(commit_channel(settings.stream_prefix))
        try:
            while True:
                if await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05):
                    announced.append(time.time())
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def sample_lag() -> None:
        while True:
            groups = await redis.xinfo_groups(settings.stream)
            lags.append(int(next(g for g in groups if g["name"] == b"indexer")
                            .get("lag") or 0))
            await asyncio.sleep(1)  # sampling interval

    scraped_before = await asyncio.to_thread(_scrape, metrics_port)
    checker = asyncio.create_task(
        watch.follow(engine.reader) if engine.reader is not None else watch.poll(engine.stored),
        name="checker")
    listener = asyncio.create_task(listen(), name="listener")
    sampler = asyncio.create_task(sample_lag(), name="lag-sampler")
    stack.push_async_callback(stop_tasks, [checker, listener, sampler])
    print(f"writing at {args.rate:g}/s for {args.duration:g} s ...", file=sys.stderr)
    load_before, cpu_before = os.getloadavg()[0], _cpu_seconds()
    started, window_end = await write_phase(CoreWrite(pool), watch, args.rate, args.duration)
    bench_cpu = (_cpu_seconds() - cpu_before) / max(time.perf_counter() - started, 1e-9)
    await stop_tasks([sampler])
    print(f"{watch.ledger.committed} writes committed; waiting up to {args.converge_timeout:g}"
          f" s for the last {len(watch.pending)} to become visible ...", file=sys.stderr)
    converged = await watch.drained(checker, args.converge_timeout)
    pending_at_deadline = len(watch.pending)
    extra_s = 0.0
    if not converged and args.extra_wait > 0:
        watch.late = True
        print(f"{len(watch.pending)} writes not visible yet: the indexer runs up to "
              f"{args.extra_wait:g} s more ...", file=sys.stderr)
        extra_from = time.perf_counter()
        await watch.drained(checker, args.extra_wait)
        extra_s = time.perf_counter() - extra_from
        if engine.reader is not None:
            await engine.reader.refresh(force=True)  # a last look, in case a reload was missed
        await watch.check(engine.stored, time.perf_counter())
    lost = list(watch.pending.values())
    stages = await _lost_stages(pool, lost)
    await stop_tasks([checker, listener])
    counts = watch.ledger.counts()
    seen = watch.seen
    scraped_after = await asyncio.to_thread(_scrape, metrics_port)
    ms = sorted(latency * 1000 for _, latency in seen)
    half = len(lags) // 2
    out: dict[str, object] = {
        "duration_s": args.duration,
        **write_rate(watch.ledger, args.rate, started, window_end),
        "bench_process_cpu_share_during_writes": round(bench_cpu, 2),
        "machine_load_average": f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}",
        "writes_planned": watch.ledger.planned,
        **{f"writes_{fate.value}": counts[fate] for fate in Fate},
    }
    if watch.ledger.errors:
        out["write_errors"] = "; ".join(f"{n}x {error}"
                                        for error, n in watch.ledger.errors.most_common(3))
    out |= {
        "convergence_timeout_s": args.converge_timeout,
        "all_visible_s_after_last_commit": _all_visible_after(watch) if converged else "-",
        "pending_at_convergence_deadline": pending_at_deadline,
        "extra_wait_s": f"{extra_s:.1f} of {args.extra_wait:g}" if not converged else "-",
        "verdict": verdict(counts, args.extra_wait, stages),
        "dead_lettered": await redis.xlen(settings.key("dlq")),
    }
    if lost:
        out["not_visible_examples"] = ", ".join(f"{p.kind} {p.doc_id}" for p in lost[:3])
    if ms:
        out |= {"p50_ms": round(ms[len(ms) // 2], 1),
                "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1),
                "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1),
                "max_ms": round(ms[-1], 1)}
    for kind, _ in MIX:
        out[f"{kind}_p50_p99_ms"] = summary_ms([x for p, x in seen if p.kind == kind])
    out |= await stage_times(pool, seen, announced)
    for backend in ("postgres", args.engine):
        if scraped_before is None or scraped_after is None:
            out[f"indexer_lag_{backend}_le_s"] = "metrics unavailable"
            continue
        for q, value in histogram_quantiles(scraped_before, scraped_after, backend).items():
            out[f"indexer_lag_{backend}_{q}_le_s"] = value
    out |= {"group_lag_first_half_max": max(lags[:half] or [0]),
            "group_lag_second_half_max": max(lags[half:] or [0]),
            "settings": " ".join(args.set) or "defaults"}
    return out


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rate", type=float, default=500, help="writes per second requested")
    parser.add_argument("--duration", type=float, default=60, help="seconds of writes")
    parser.add_argument("--products", type=int, default=1500)
    parser.add_argument("--nodes", type=int, default=300)
    parser.add_argument("--converge-timeout", type=float, default=60,
                        help="seconds after the last write for every write to be visible")
    parser.add_argument("--extra-wait", type=float, default=60,
                        help="on a miss, seconds more to tell a slow pipeline from lost writes")
    parser.add_argument("--name-prefix", default="rustok_bench",
                        help="database name and Tantivy directory /tmp/PREFIX_xxxxxxxx")
    parser.add_argument("--metrics-port", type=int, default=0,
                        help="the indexer's metrics port (0: any free one)")
    parser.add_argument("--engine", choices=("tantivy", "meilisearch"), default="tantivy",
                        help="the engine fed and checked (meilisearch: needs MEILISEARCH_URL)")
    parser.add_argument("--set", action="append", default=[], metavar="VAR=VALUE",
                        help="a setting for the relay and indexer processes")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0:
        parser.error("--rate and --duration must be positive")
    if args.engine == "meilisearch" and not os.environ.get("MEILISEARCH_URL"):
        parser.error("--engine meilisearch needs MEILISEARCH_URL")
    return args


def main(argv: list[str] | None = None) -> None:
    report("freshness", lifecycle.run(run(_parse(argv))))


if __name__ == "__main__":
    main()

