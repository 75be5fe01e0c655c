"""`rustok-search demo load | run | reset`: the demo a newcomer starts with `./run demo`
(I/O: PostgreSQL, Redis, the Tantivy folder, child processes, the terminal).

`run` loads the demo data when the database has no tenant yet, starts the service, waits until
the index has caught up (a progress bar on a terminal), and only then prints the tenants, a
search key per tenant and example requests that return hits on the demo data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aiohttp import ClientError, ClientSession, ClientTimeout

from core_write.backoff import pause
from core_write.errors import Conflict, Unavailable
from core_write.settings import Settings
from rustok_search import progress

log = logging.getLogger(__name__)
DEMO_LOG_LEVEL = "WARNING"
"""The demo's children log warnings and errors only (no access log): set RUSTOK_LOG_LEVEL to
see everything."""
CATCH_UP_TIMEOUT = 1800.0
TANTIVY_FOLDERS = frozenset({"product", "content"})
BACKLOG = """
SELECT (SELECT count(*) FROM outbox) AS events,
       (SELECT count(*) FROM outbox WHERE acked_at IS NULL AND indexed_at IS NULL) AS waiting,
       (SELECT count(*) FROM engine_queue WHERE engine = ANY($1::text[])) AS engine_waiting
"""
EXAMPLES = (
    "/v1/search/products?q=lether&facets=categories,tags",
    "/v1/search/products?q=wool&filter.has_stock=true&filter.price.max=20000&currency=EUR"
    "&sort=price:asc&facets=tags,price",
    "/v1/search/content?q=warranty&highlight=true",
    "/v1/suggest?q=wal&type=products",
)
"""Requests that find documents of tenant demo-0 in the demo data (the tests run them, and
README's examples, against the first 90 products of the default demo)."""


async def _written(pool: asyncpg.Pool) -> tuple[int, int]:
    row = await pool.fetchrow("""
        SELECT (SELECT count(*) FROM commerce_products p JOIN tenants t ON t.id = p.tenant_id
                WHERE t.slug LIKE 'demo-%') +
               (SELECT count(*) FROM nodes n JOIN tenants t ON t.id = n.tenant_id
                WHERE t.slug LIKE 'demo-%') AS done""")
    assert row is not None
    return int(row["done"]), 0


async def load(pool: asyncpg.Pool, products: int, nodes: int, tenants: int, seed: int,
               concurrency: int) -> str:
    """Write the demo data with a progress bar; returns the loader's summary."""
    from rustok_search.demo_writer import DemoSpec, load_demo

    spec = DemoSpec(products=products, nodes=nodes, tenants=tenants, seed=seed,
                    concurrency=concurrency)
    total = products + nodes

    async def poll() -> tuple[int, int]:
        return (await _written(pool))[0], total

    async with progress.polled("writing demo data", poll):
        report = await load_demo(pool, spec)
    return report.summary()


async def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.resources import open_resources

    async with open_resources(settings, redis_required=False) as res:
        print(await load(res.pool, args.products, args.nodes, args.tenants, args.seed,
                         args.concurrency))
    return 0


async def wait_caught_up(pool: asyncpg.Pool, settings: Settings, url: str,
                         stop: asyncio.Event) -> float:
    """Wait until every event is indexed, the engines' queues are empty and the API answers
    /readyz with 200; returns the seconds it took."""
    started = time.monotonic()
    engines = list(settings.engines)
    deadline = started + CATCH_UP_TIMEOUT
    async def poll() -> tuple[int, int]:
        row = await pool.fetchrow(BACKLOG, engines)
        assert row is not None
        return int(row["events"]) - int(row["waiting"]), int(row["events"])

    async with progress.polled("indexing events", poll) as shown, \
            ClientSession(timeout=ClientTimeout(total=3)) as http:
        while not stop.is_set():
            if time.monotonic() > deadline:
                raise Unavailable(f"the index did not catch up within {CATCH_UP_TIMEOUT:.0f} s")
            row = await pool.fetchrow(BACKLOG, engines)
            assert row is not None
            if int(row["engine_waiting"]):
                shown.update(int(row["events"]) - int(row["waiting"]), int(row["events"]),
                             note=f"{row['engine_waiting']} documents wait for the engine")
            if not row["waiting"] and not row["engine_waiting"] and await _ready(http, url):
                break
            await pause(0.5, stop)
    return time.monotonic() - started


async def _ready(http: ClientSession, url: str) -> bool:
    try:
        async with http.get(f"{url}/readyz") as response:
            return response.status == 200
    except (ClientError, OSError, TimeoutError):
        return False


def welcome(url: str, keys: dict[str, str], seconds: float, summary: str | None) -> str:
    first = next(iter(keys.values()))
    lines = ["", f"RusToK Search demo is ready (the index caught up in {seconds:.1f} s)."]
    if summary:
        lines.append(f"  {summary}")
    lines += ["", f"  preview page:  {url}/#key={first}",
              f"  OpenAPI:       {url}/openapi.json", "",
              "  a search key per tenant (new keys each start, shown once):"]
    lines += [f"    {slug:<8} {key}" for slug, key in keys.items()]
    lines += ["", "  try:"]
    lines += [f"    curl -H 'Authorization: Bearer {first}' '{url}{path}'" for path in EXAMPLES]
    lines += ["", "  Ctrl-C stops everything; `./run demo --reset` starts again from an empty "
                  "database.", ""]
    return "\n".join(lines)


async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Load (if empty), serve, wait for the index, then print how to search."""
    from core_write.resources import open_resources
    from rustok_search.signals import stop_event
    from rustok_search.supervisor import default_roles, supervise
    from search_api.auth import create_key

    stop = stop_event()
    if "RUSTOK_LOG_LEVEL" not in os.environ:
        os.environ["RUSTOK_LOG_LEVEL"] = DEMO_LOG_LEVEL
        logging.getLogger().setLevel(DEMO_LOG_LEVEL)
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    url = f"http://{host}:{settings.api_port}"
    async with open_resources(settings) as res:
        summary = None
        if not await res.pool.fetchval("SELECT EXISTS (SELECT 1 FROM tenants)"):
            summary = await _until_stopped(stop, load(res.pool, args.products, args.nodes,
                                                      args.tenants, args.seed,
                                                      args.concurrency))
            if summary is None:
                return 130
        print(f"starting the service: relay, indexer, search API on {url}", flush=True)
        service = asyncio.create_task(supervise(default_roles(), stop))
        seconds = await _until_stopped(stop, wait_caught_up(res.pool, settings, url, stop))
        if seconds is not None and not stop.is_set():
            slugs = [r["slug"] for r in await res.pool.fetch(
                "SELECT slug FROM tenants ORDER BY slug LIMIT 10")]
            keys = {slug: (await create_key(res.pool, slug, "search"))[0] for slug in slugs}
            print(welcome(url, keys, seconds, summary), flush=True)
    return await service


async def _until_stopped(stop: asyncio.Event, work: Any) -> Any:
    """Run `work` until it finishes or `stop` is set (then cancel it and return None)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None
    return task.result()


async def cmd_reset(args: argparse.Namespace, settings: Settings) -> int:
    """Drop the database, the Redis keys of the stream prefix and the Tantivy folder, so the
    next `./run demo` starts from nothing. Refuses a database with tenants other than the
    demo's."""
    from core_write.db import connect, database_name, quote_ident, with_database

    dsn = settings.database_url
    name = database_name(dsn)
    try:
        conn = await connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        conn = None
    if conn is not None:
        try:
            others = await conn.fetch("SELECT slug FROM tenants WHERE slug NOT LIKE 'demo-%' "
                                      "LIMIT 5") if await conn.fetchval(
                "SELECT to_regclass('tenants') IS NOT NULL") else []
        finally:
            await conn.close()
        if others:
            raise Conflict(f"database {name!r} holds other tenants than the demo's "
                           f"({', '.join(r['slug'] for r in others)}); not dropping it",
                           field="DATABASE_URL")
        admin = await connect(with_database(dsn, "postgres"))
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)}")
        except asyncpg.ObjectInUseError:
            raise Conflict(f"database {name!r} is in use: stop the demo (Ctrl-C) first",
                           field="DATABASE_URL") from None
        finally:
            await admin.close()
        print(f"dropped database {name}")
    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{settings.stream_prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
    print(f"deleted {len(keys)} Redis keys {settings.stream_prefix}:*")
    folder = Path(settings.tantivy_dir)
    if await asyncio.to_thread(_remove_tantivy_dir, folder):
        print(f"removed {folder}")
    return 0


def _remove_tantivy_dir(folder: Path) -> bool:
    """Remove the folder only when it holds nothing but our index folders (`product/`,
    `content/`, each with its generations and CURRENT), so a mistyped TANTIVY_DIR loses
    nothing else."""
    if not folder.is_dir() or not {p.name for p in folder.iterdir()} <= TANTIVY_FOLDERS:
        return False
    shutil.rmtree(folder)
    return True


def add_parser(sub: Any, positive: Any, non_negative: Any) -> None:
    """The `demo` subcommands (`sub` is the top-level subparsers object)."""
    p = sub.add_parser("demo", help="demo data and the demo service")
    dsub = p.add_subparsers(dest="action", required=True)
    for action, run, text in (
            ("load", cmd_load, "write a deterministic demo catalog and content set"),
            ("run", cmd_run, "load the demo data if the database is empty, run the service, "
                             "and print keys and example requests once the index caught up")):
        dl = dsub.add_parser(action, help=text)
        dl.add_argument("--products", type=non_negative, default=2000)
        dl.add_argument("--nodes", type=non_negative, default=1000)
        dl.add_argument("--tenants", type=positive, default=3)
        dl.add_argument("--seed", type=int, default=42)
        dl.add_argument("--concurrency", type=positive, default=4,
                        help="parallel writer connections (default 4)")
        dl.set_defaults(run=run)
    dr = dsub.add_parser("reset", help="drop the database, the Redis keys of the stream prefix "
                                       "and the Tantivy folder (refuses non-demo tenants)")
    dr.set_defaults(run=cmd_reset)
