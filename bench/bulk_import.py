"""Bulk import to searchable: N demo products (rustok_search/demo_data.py: 1-5 variants with
1-3 prices and stock at two locations, categories, tags) as an NDJSON file, imported by
`core_write.bulk_import` in this process while a relay and an indexer (Tantivy engine) run as
separate processes. Measured: products/s written (the import's own time), and products/s end
to end, from the import's start until index_products holds every product and until a Tantivy
search through the API's backend counts them all. The baseline, in the same run and before
it: `--baseline` products (a smaller N) written one unit of work per product through the
core_write services, as `demo load` writes them (4 writers), through the same pipeline.
`import_cpu_of_this_process_s`: the CPU the import took in this process (reading, parsing and
validating lines, building the rows and encoding them); the rest of its time is PostgreSQL's.
`cpu_us_per_product_*`: CPU per imported product by stage, from the import's start until a
Tantivy search counts every product (Linux /proc; PostgreSQL on this machine): the importer
(this process, until the import returned), PostgreSQL's backends of the import's pool (the
write, until the import returned: its ANALYZE included), the relay and the indexer processes
(the indexer with its Tantivy engine), PostgreSQL's other backends of the database (the
relay's and the indexer's connections: the document build; autovacuum), and their total,
with the products/s that total allows on this machine's cores; and PostgreSQL's share alone
(its two stages) with the products/s it would allow were every other stage free: the ceiling
of this design (source rows and index rows in PostgreSQL) on this machine.
The bench's role is a superuser, so the import copies the parts under
`session_replication_role = replica` with their foreign keys checked per statement.
Prints a Markdown table and writes JSON to bench/results/.

    python -m bench import [--products 20000] [--baseline 2000] [--chunk 500]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from bench import lifecycle
from bench.lifecycle import scratch, scratch_catalog, spawn_cli, stop_process
from bench.report import load_average, report
from bench.search_load import cpu_seconds
from core_write import bulk_import, import_jobs
from core_write.unit import CoreWrite
from indexer.tantivy.engine import tantivy_config
from indexer.tantivy.reader import TantivyReader
from rustok_search.demo_data import ProductPlan, plan_demo
from rustok_search.demo_writer import TenantIds, _run_parallel, _write_product
from search_api.backends.tantivy import TantivyBackend
from search_api.model import SearchQuery
from search_api.scope import SearchScope

SEARCHABLE_TIMEOUT_SECONDS = 1800.0


def import_line(plan: ProductPlan, locations: tuple[str, ...]) -> dict[str, Any]:
    """A demo product plan as an import line (what `demo load` writes, but its SEO title)."""
    values = sorted({value for variant in plan.variants for value in variant.option_values})
    return {
        "title": plan.title, "subtitle": plan.subtitle, "handle": plan.handle,
        "description": plan.description, "status": plan.status,
        "options": [{"title": plan.option_title, "values": values}],
        "variants": [{
            "title": variant.title, "sku": variant.sku, "position": position,
            "manage_inventory": variant.manage_inventory,
            "allow_backorder": variant.allow_backorder,
            "options": {plan.option_title: variant.option_values[0]},
            "prices": dict(variant.prices),
            "stock": dict(zip(locations, variant.stock, strict=False)),
        } for position, variant in enumerate(plan.variants)],
        "categories": list(plan.categories), "tags": sorted(plan.tags),
    }


def write_file(path: Path, plans: list[ProductPlan], locations: tuple[str, ...]) -> int:
    """The plans as an NDJSON file; its size in bytes."""
    with path.open("w") as out:
        for plan in plans:
            out.write(json.dumps(import_line(plan, locations)) + "\n")
    return path.stat().st_size


async def _file(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while block := source.read(1024 * 1024):
            yield block


async def _until(what: str, check: Callable[[], Awaitable[bool]]) -> float:
    """Seconds (perf_counter) at which `check` first held, polled every 50 ms."""
    deadline = time.perf_counter() + SEARCHABLE_TIMEOUT_SECONDS
    while not await check():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what} did not happen in {SEARCHABLE_TIMEOUT_SECONDS:.0f} s")
        await asyncio.sleep(0.05)  # polling a condition with a deadline
    return time.perf_counter()


async def _searchable(pool: asyncpg.Pool, backend: TantivyBackend, tenant: uuid.UUID,
                      expected: int, started: float) -> tuple[float, float]:
    """Seconds from `started` until index_products and a Tantivy search hold `expected`
    products of the tenant."""
    async def in_table() -> bool:
        return bool(await pool.fetchval(
            "SELECT count(*) FROM index_products WHERE tenant_id = $1", tenant) >= expected)

    query = SearchQuery.model_validate({"doc_type": "product", "per_page": 1})
    scope = SearchScope(tenant_id=tenant, include_drafts=True)

    async def in_tantivy() -> bool:
        with contextlib.suppress(Exception):  # no generation yet, or a reload in progress
            return (await backend.search(query, scope)).total >= expected
        return False

    table = await _until("index_products complete", in_table)
    engine = await _until("Tantivy complete", in_tantivy)
    return table - started, engine - started


async def _tenant_ids(pool: asyncpg.Pool, tenant: uuid.UUID) -> TenantIds:
    ids = TenantIds(tenant)
    ids.locations = [r["id"] for r in await pool.fetch(
        "SELECT id FROM commerce_stock_locations WHERE tenant_id = $1 ORDER BY name DESC",
        tenant)]  # "Main warehouse", then "Shop floor", as the plans list them
    ids.commerce_categories = {r["handle"]: r["id"] for r in await pool.fetch(
        "SELECT handle, id FROM commerce_categories WHERE tenant_id = $1", tenant)}
    ids.tags = {r["name"]: r["id"] for r in await pool.fetch(
        "SELECT name, id FROM tags WHERE tenant_id = $1", tenant)}
    return ids


def _process_cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds of each process still running (a backend may have ended)."""
    out: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            out[pid] = cpu_seconds(pid)
    return out


async def _backends(pool: asyncpg.Pool) -> tuple[list[int], list[int]]:
    """The server pids of the pool's connections (all opened), and of the database's other
    backends (the relay's, the indexer's, autovacuum's)."""
    conns = [await pool.acquire() for _ in range(pool.get_max_size())]
    try:
        own = [conn.get_server_pid() for conn in conns]
        others = [r["pid"] for r in await conns[0].fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> ALL($1::int[])", own)]
    finally:
        for conn in conns:
            await pool.release(conn)
    return own, others


def _used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two samples (a process first seen in `after` from its start)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _cap(us_per_product: float) -> str:
    """The products/s a CPU cost per product allows on this machine's cores."""
    return f"{(os.cpu_count() or 1) * 1e6 / us_per_product:,.0f} ({os.cpu_count()} cores)"


def _stage_cpu(count: int, stages: dict[str, float]) -> dict[str, object]:
    per = {name: round(seconds / count * 1e6) for name, seconds in stages.items()}
    total = sum(stages.values()) / count * 1e6
    postgres = sum(s for name, s in stages.items() if name.startswith("postgres")) / count * 1e6
    return {**per, "total": round(total), "cap_per_s_on_cores": _cap(total),
            "postgres": round(postgres), "cap_per_s_postgres_alone": _cap(postgres)}


def _rates(count: int, written: float, table: float, engine: float) -> dict[str, float]:
    return {"written_per_s": round(count / written), "to_index_table_per_s": round(count / table),
            "to_tantivy_per_s": round(count / engine), "written_s": round(written, 2),
            "to_index_table_s": round(table, 2), "to_tantivy_s": round(engine, 2)}


async def run(args: argparse.Namespace) -> dict[str, object]:
    names = scratch("rustok_bench")
    base, redis_url, name, tantivy_dir = names.base, names.redis_url, names.name, names.tantivy_dir
    settings, env = names.settings, names.env
    plans = plan_demo(args.products + args.baseline, 0, 1, args.seed)[0]
    source = Path(f"/tmp/{name}.ndjson")
    result: dict[str, object] = {"products": args.products, "baseline_products": args.baseline,
                                 "chunk_lines": args.chunk}
    async with contextlib.AsyncExitStack() as stack:  # undone in reverse order, always
        redis, pool = await scratch_catalog(stack, base, name, redis_url,
                                            settings.stream_prefix, tantivy_dir, 0, 0, 8)
        tenant = await pool.fetchval("SELECT id FROM tenants WHERE slug = 'demo-0'")
        locations = plans.locations
        stack.callback(source.unlink, missing_ok=True)
        result["file_mb"] = round(write_file(source, plans.products[:args.products],
                                             locations) / 1e6, 1)
        children = {}
        for command in ("relay", "indexer"):
            children[command] = await spawn_cli(command, env)
            stack.push_async_callback(stop_process, children[command])
        reader = await stack.enter_async_context(
            TantivyReader(tantivy_config(settings), redis, settings.stream_prefix))
        backend = TantivyBackend(reader)
        stack.callback(backend._threads.shutdown, wait=False)
        load = os.getloadavg()

        if args.baseline:  # the per-row path first, on its own
            core, ids = CoreWrite(pool), await _tenant_ids(pool, tenant)

            def job(plan: ProductPlan) -> Callable[[], Awaitable[None]]:
                async def write() -> None:
                    await core.call(_write_product, ids, plan)
                return write

            started = time.perf_counter()
            await _run_parallel([job(p) for p in plans.products[args.products:]], 4)
            written = time.perf_counter() - started
            table, engine = await _searchable(pool, backend, tenant, args.baseline, started)
            result.update({f"baseline_{k}": v for k, v in
                           _rates(args.baseline, written, table, engine).items()})

        job_row = await import_jobs.create_job(pool, tenant, "bench", source=str(source))
        importer = bulk_import.Importer(pool, job_row, chunk_lines=args.chunk)
        own, others = await _backends(pool)
        child_pids = {name: [proc.pid] for name, proc in children.items()}
        before = {name: _process_cpu(pids) for name, pids in
                  {"own": own, "others": others, **child_pids}.items()}
        started, cpu = time.perf_counter(), time.process_time()
        done = await importer.run(_file(source), "bench")
        written = time.perf_counter() - started
        importer_cpu = time.process_time() - cpu
        import_pg = _used(before["own"], _process_cpu(own))
        result["import_cpu_of_this_process_s"] = round(importer_cpu, 1)
        if done["failed"]:
            raise RuntimeError(f"{done['failed']} lines refused: "
                               f"{(await import_jobs.job_view(pool, done, 3))['errors']}")
        table, engine = await _searchable(pool, backend, tenant, args.baseline + args.products,
                                          started)
        _, others_now = await _backends(pool)
        result.update({f"cpu_us_per_product_{stage}": value for stage, value in _stage_cpu(
            args.products, {
            "importer": importer_cpu, "postgres_import": import_pg,
            "relay": _used(before["relay"], _process_cpu(child_pids["relay"])),
            "indexer": _used(before["indexer"], _process_cpu(child_pids["indexer"])),
            "postgres_others": _used(before["others"], _process_cpu(others_now))}).items()})
        rates = _rates(args.products, written, table, engine)
        result.update({f"import_{k}": v for k, v in rates.items()})
        if args.baseline:
            for key in ("written_per_s", "to_index_table_per_s", "to_tantivy_per_s"):
                baseline = result[f"baseline_{key}"]
                assert isinstance(baseline, int | float)
                result[f"ratio_{key}"] = f"{rates[key] / baseline:.1f}x"
        result["outbox_events_import"] = await pool.fetchval(
            "SELECT count(*) FROM outbox WHERE event_type = 'ReindexRequested'")
        result["load_average_1_5_15_at_start"] = load_average(load)
        result["load_average_1_5_15_at_end"] = load_average()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--baseline", type=int, default=2_000,
                        help="products written per row through core_write first (0: none)")
    parser.add_argument("--chunk", type=int, default=bulk_import.CHUNK_LINES)
    parser.add_argument("--seed", type=int, default=7)
    report("import", lifecycle.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
