"""Freshness: commit-to-searchable time under a steady stream of writes through core_write, a
realistic mix (price and stock changes, renames, content edits, new products, deletes). The
relay and the indexer (Tantivy engine) run as separate processes; a Tantivy reader in this
process, the API's `TantivyReader`, checks after each of its reloads whether each pending
write is visible. Also samples the consumer group's lag. Prints a Markdown table and writes
JSON to bench/results/.

    python -m bench.freshness [--rate 500] [--duration 60] [--products 1500] [--nodes 300]
        [--name-prefix rustok_bench] [--metrics-port 0] [--set VAR=VALUE ...]

`--set` passes settings to the relay and indexer (e.g. `--set TANTIVY_COMMIT_INTERVAL_MS=20`).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import random
import shutil
import signal
import socket
import statistics
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from bench.report import report
from core_write.db import connect, create_pool, quote_ident, with_database
from core_write.demo import DemoSpec, load_demo
from core_write.migrations import migrate
from core_write.services import catalog, content, inventory
from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer.tantivy.config import DocType, commit_channel
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


MIX = (("price", 0.30), ("stock", 0.25), ("rename", 0.15), ("content", 0.15),
       ("create", 0.10), ("delete", 0.05))
"""Share of each kind of write; deletes remove products this run created earlier."""
PRICE_BASE = 10_000_000
"""Probe prices are above any demo price, so they are the product's maximum EUR price."""
STOCK_STEP = 1000
"""Probe stock levels are multiples of this, far above a product's other stock."""


@dataclass
class Probe:
    """A committed write and what its document shows once the write is searchable."""

    kind: str
    doc_type: DocType
    doc_id: uuid.UUID
    doc_field: str
    expected: Any
    token: int | None
    """The write's highest outbox position (for the per-stage times)."""
    committed: float
    committed_wall: float = field(default_factory=time.time)

    def visible(self, doc: dict[str, Any] | None) -> bool:
        if self.kind == "delete":
            return doc is None
        if doc is None or self.kind == "create":
            return doc is not None
        value = doc.get(self.doc_field)
        if self.kind == "stock":  # the probe level plus the product's other (small) stock
            return bool((value or 0) // STOCK_STEP == self.expected // STOCK_STEP)
        if isinstance(self.expected, str):
            return self.expected in (value or "")
        return bool(value == self.expected)


@dataclass
class Targets:
    """What each kind of write changes: disjoint pools, one write in flight per target."""

    tenant: uuid.UUID
    price: list[tuple[uuid.UUID, uuid.UUID]]  # (product, variant)
    stock: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]  # (product, item, location)
    rename: list[uuid.UUID]
    content: list[uuid.UUID]
    created: list[uuid.UUID] = field(default_factory=list)  # visible, not yet deleted
    busy: set[uuid.UUID] = field(default_factory=set)


async def _targets(pool: asyncpg.Pool) -> Targets:
    tenant = await pool.fetchval("SELECT id FROM tenants LIMIT 1")
    stocked = await pool.fetch(
        "SELECT DISTINCT ON (v.product_id) v.product_id, vi.inventory_item_id, l.location_id "
        "FROM commerce_variant_inventory vi JOIN commerce_variants v ON v.id = vi.variant_id "
        "JOIN commerce_inventory_levels l ON l.inventory_item_id = vi.inventory_item_id "
        # the level then adds to the product's total_stock one for one
        "WHERE v.manage_inventory AND vi.required_quantity = 1 AND NOT EXISTS ("
        "  SELECT 1 FROM commerce_variant_inventory o "
        "  WHERE o.variant_id = vi.variant_id AND o.inventory_item_id <> vi.inventory_item_id) "
        "ORDER BY v.product_id, vi.inventory_item_id, l.location_id")
    variants = await pool.fetch(
        "SELECT DISTINCT ON (product_id) product_id, id FROM commerce_variants "
        "ORDER BY product_id, id")
    nodes = await pool.fetch("SELECT id FROM nodes WHERE kind IN ('post', 'page')")
    rng = random.Random(3)
    stock = [(r["product_id"], r["inventory_item_id"], r["location_id"]) for r in stocked]
    rng.shuffle(stock)
    stock = stock[:len(stock) // 3]
    taken = {product for product, _, _ in stock}
    rest = [(r["product_id"], r["id"]) for r in variants if r["product_id"] not in taken]
    rng.shuffle(rest)
    half = len(rest) // 2
    return Targets(tenant, price=rest[:half], stock=stock,
                   rename=[product for product, _ in rest[half:]],
                   content=[r["id"] for r in nodes])


async def _write(core: CoreWrite, targets: Targets, kind: str, n: int) -> Probe | None:
    """One write of `kind`; None when every target of the kind has a write in flight."""
    tenant, token = targets.tenant, f"fresh{n}q"

    def pick(pool: list[Any], key: Callable[[Any], uuid.UUID] = lambda t: t) -> Any:
        for offset in range(len(pool)):
            target = pool[(n + offset) % len(pool)]
            if key(target) not in targets.busy:
                targets.busy.add(key(target))
                return target
        return None

    doc_type: DocType = "product"
    expected: Any
    if kind == "price":
        target = pick(targets.price, lambda t: t[0])
        if target is None:
            return None
        doc_id, variant = target
        amount = PRICE_BASE + n
        written = await core.call(catalog.set_price, tenant, variant, "EUR", amount)
        field, expected = "price_max_eur", amount
    elif kind == "stock":
        target = pick(targets.stock, lambda t: t[0])
        if target is None:
            return None
        doc_id, item, location = target
        level = STOCK_STEP * (1000 + n)
        written = await core.call(inventory.set_stock_level, tenant, item, location, level)
        field, expected = "total_stock", level
    elif kind == "rename":
        doc_id = pick(targets.rename)
        if doc_id is None:
            return None
        written = await core.call(catalog.update_product, tenant, doc_id,
                                  {"title": f"Probe {token}"})
        field, expected = "title", token
    elif kind == "content":
        doc_id = pick(targets.content)
        if doc_id is None:
            return None
        doc_type = "content"
        written = await core.call(content.set_body, tenant, doc_id,
                        {"body": f"Fresh {token} edit of this page.", "format": "plain"})
        field, expected = "body_preview", token
    elif kind == "create":
        written = await core.call(catalog.create_product, tenant, {
            "title": f"New {token}", "handle": f"new-{token}", "status": "published"})
        doc_id = written.value["id"]
        targets.busy.add(doc_id)
        field, expected = "id", None
    else:
        doc_id = pick(targets.created)
        if doc_id is None:
            return None
        targets.created.remove(doc_id)
        written = await core.call(catalog.delete_product, tenant, doc_id)
        field, expected = "id", None
    return Probe(kind, doc_type, doc_id, field, expected, written.token, time.perf_counter())


async def run(args: argparse.Namespace) -> dict[str, object]:
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/rustok")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"{args.name_prefix}_{uuid.uuid4().hex[:8]}"
    dsn = with_database(base, name)
    tantivy_dir = f"/tmp/{name}"
    os.makedirs(tantivy_dir)
    settings = Settings(DATABASE_URL=dsn, REDIS_URL=redis_url, RUSTOK_STREAM_PREFIX=f"bench:{name}",
                        TANTIVY_DIR=tantivy_dir)
    metrics_port = args.metrics_port or _free_port()
    env = dict(os.environ, DATABASE_URL=dsn, REDIS_URL=redis_url,
               RUSTOK_STREAM_PREFIX=settings.stream_prefix, TANTIVY_DIR=tantivy_dir,
               RUSTOK_ENGINES="tantivy", RUSTOK_LOG_LEVEL="WARNING", RELAY_METRICS_PORT="0",
               INDEXER_METRICS_PORT=str(metrics_port))
    env.update(item.split("=", 1) for item in args.set)
    redis = aioredis.Redis.from_url(redis_url)
    await migrate(dsn)
    pool = await create_pool(dsn, max_size=20)
    procs = []
    try:
        await load_demo(pool, DemoSpec(products=args.products, nodes=args.nodes, tenants=1,
                                       seed=1))
        targets = await _targets(pool)
        for command in ("relay", "indexer"):
            procs.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "rustok_search.cli", command, cwd=ROOT, env=env))
        reader = TantivyReader(tantivy_config(settings), redis, settings.stream_prefix)
        await reader.start()
        products = await pool.fetchval("SELECT count(*) FROM commerce_products")
        deadline = time.monotonic() + 180
        while await reader.count(targets.tenant) < products:
            if time.monotonic() > deadline:
                raise TimeoutError("the indexer did not load the catalog in time")
            await asyncio.sleep(0.1)  # polling the catalog load, not synchronization
        core = CoreWrite(pool)
        pending: list[Probe] = []
        done: list[tuple[Probe, float]] = []
        lags: list[int] = []
        skipped = 0
        writing = True
        scraped_before = await asyncio.to_thread(_scrape, metrics_port)
        kinds, weights = zip(*MIX, strict=True)
        rng = random.Random(5)

        async def write() -> None:
            nonlocal writing, skipped
            interval = 1 / args.rate
            start = time.perf_counter()
            slots = asyncio.Semaphore(16)  # writers in flight, as many web requests would be

            async def one(n: int, kind: str) -> None:
                nonlocal skipped
                async with slots:
                    probe = await _write(core, targets, kind, n)
                if probe is None:
                    skipped += 1
                else:
                    pending.append(probe)

            tasks = []
            for n in range(int(args.rate * args.duration)):
                await asyncio.sleep(max(0.0, start + n * interval - time.perf_counter()))
                kind = rng.choices(kinds, weights)[0]
                tasks.append(asyncio.create_task(one(n, kind)))
            await asyncio.gather(*tasks)
            writing = False

        async def check() -> None:
            seen = -1
            last = time.perf_counter()
            while writing or pending:
                reloads = reader.reloads + reader.reopens
                # a pending write can only become visible with a reload; look again after
                # each one (and every 100 ms in case a reload was missed)
                if reloads == seen and time.perf_counter() - last < 0.1:
                    await asyncio.sleep(0.001)
                    continue
                # a write found now became visible with the reload just seen, not when this
                # pass reaches it
                seen, last = reloads, time.perf_counter()
                for doc_type in ("product", "content"):
                    probes = [p for p in pending if p.doc_type == doc_type]
                    docs = await reader.get_many(targets.tenant, [p.doc_id for p in probes],
                                                 doc_type=doc_type)
                    for probe, doc in zip(probes, docs, strict=True):
                        if not probe.visible(doc):
                            continue
                        done.append((probe, last - probe.committed))
                        pending.remove(probe)
                        targets.busy.discard(probe.doc_id)
                        if probe.kind == "create":
                            targets.created.append(probe.doc_id)

        announced: list[float] = []  # wall times of the engine writer's commit messages

        async def listen() -> None:
            pubsub = redis.pubsub()
            await pubsub.subscribe(commit_channel(settings.stream_prefix))
            try:
                while writing or pending:
                    if await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05):
                        announced.append(time.time())
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]

        async def sample_lag() -> None:
            while writing:
                groups = await redis.xinfo_groups(settings.stream)
                lags.append(int(next(g for g in groups if g["name"] == b"indexer")
                                .get("lag") or 0))
                await asyncio.sleep(1)  # sampling interval

        try:
            await asyncio.wait_for(asyncio.gather(write(), check(), sample_lag(), listen()),
                                   timeout=args.duration + 60)
        except TimeoutError:
            print(f"never saw {len(pending)} of {len(pending) + len(done)} writes: "
                  f"{[(p.kind, str(p.doc_id)) for p in pending[:3]]}", file=sys.stderr)
            raise
        await reader.close()
        stages = await _stages(pool, done, announced)
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
    ms = [latency * 1000 for _, latency in done]
    half = len(lags) // 2
    per_kind = {
        f"{kind}_p50_p99_ms": (f"{statistics.median(mine):.1f} / {_quantile(mine, 0.99):.1f} "
                               f"({len(mine)})")
        for kind in kinds if (mine := [x * 1000 for p, x in done if p.kind == kind])
    }
    return {
        "rate_per_s": args.rate, "duration_s": args.duration, "writes": len(ms),
        "skipped_all_targets_busy": skipped,
        "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(_quantile(ms, 0.95), 1),
        "p99_ms": round(_quantile(ms, 0.99), 1), "max_ms": round(max(ms), 1), **per_kind,
        **stages,
        **{f"indexer_lag_{backend}_{q}_le_s": value
           for backend in ("postgres", "tantivy")
           for q, value in _histogram_quantiles(scraped_before, scraped_after, backend).items()},
        "group_lag_first_half_max": max(lags[:half] or [0]),
        "group_lag_second_half_max": max(lags[half:] or [0]),
        "settings": " ".join(args.set) or "defaults",
    }


async def _stages(pool: asyncpg.Pool, done: list[tuple[Probe, float]],
                  announced: list[float]) -> dict[str, str]:
    """p50 / p99 of where the time went, from the outbox row of each write's last event:
    commit → published on the stream (relay), → indexed into the Postgres tables (consumer),
    → the engine writer's commit announcement that made it visible (the last one before it
    was seen), → visible in the reader (reader wake-up and reload)."""
    rows = {r["seq"]: r for r in await pool.fetch(
        "SELECT seq, extract(epoch FROM created_at) AS created, "
        "extract(epoch FROM published_at) AS published, "
        "extract(epoch FROM indexed_at) AS indexed FROM outbox WHERE seq = ANY($1::bigint[])",
        [p.token for p, _ in done if p.token is not None])}
    spans: dict[str, list[float]] = {"commit_to_published": [], "published_to_pg_indexed": [],
                                      "pg_indexed_to_engine_commit": [],
                                      "engine_commit_to_visible": []}
    for probe, latency in done:
        row = rows.get(probe.token)
        if row is None or row["published"] is None or row["indexed"] is None:
            continue
        visible = probe.committed_wall + latency
        spans["commit_to_published"].append(float(row["published"]) - probe.committed_wall)
        spans["published_to_pg_indexed"].append(float(row["indexed"] - row["published"]))
        commit = bisect.bisect_right(announced, visible) - 1
        if commit >= 0 and announced[commit] >= float(row["indexed"]):
            spans["pg_indexed_to_engine_commit"].append(announced[commit] - float(row["indexed"]))
            spans["engine_commit_to_visible"].append(visible - announced[commit])
    out = {f"stage_{name}_p50_p99_ms": f"{statistics.median(v) * 1000:.1f} / "
                                        f"{_quantile(v, 0.99) * 1000:.1f}"
           for name, v in spans.items() if v}
    gaps = [b - a for a, b in zip(announced, announced[1:], strict=False)]
    if gaps:  # how often the engine writer committed (one message per doc type committed)
        out["engine_commit_gap_p50_p99_ms"] = (f"{statistics.median(gaps) * 1000:.1f} / "
                                               f"{_quantile(gaps, 0.99) * 1000:.1f}")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--products", type=int, default=1500)
    parser.add_argument("--nodes", type=int, default=300)
    parser.add_argument("--name-prefix", default="rustok_bench",
                        help="database name and Tantivy directory /tmp/PREFIX_xxxxxxxx")
    parser.add_argument("--metrics-port", type=int, default=0,
                        help="the indexer's metrics port (0: any free one)")
    parser.add_argument("--set", action="append", default=[], metavar="VAR=VALUE",
                        help="a setting for the relay and indexer processes")
    args = parser.parse_args(argv)
    report("freshness", asyncio.run(run(args)))


if __name__ == "__main__":
    main()
