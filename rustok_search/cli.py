"""`rustok-search`: subcommands for operators (I/O: whatever each subcommand runs).

Settings are read here, in `main()`, and handed to the code they configure; logging is
configured here too.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from core_write.errors import RustokError
from core_write.settings import Settings, SettingsError, load_settings
from rustok_search.accounts_cli import add_keys_parser, add_tenants_parser
from rustok_search.engines_cli import add_engines_parser
from rustok_search.import_cli import add_import_parser
from rustok_search.logs import configure_logging
from rustok_search.relevance_cli import add_relevance_parsers

if TYPE_CHECKING:
    import asyncpg

    from indexer.reindex import Scope
    from indexer.verify import Drift, SettingsDrift

log = logging.getLogger("rustok_search")

Command = Callable[[argparse.Namespace, Settings], Awaitable[int]]


async def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from core_write.db import connect
    from core_write.migrations import MIGRATIONS_DIR, migrate
    from core_write.partitions import ensure_order_partitions

    folder = Path(settings.migrations_dir) if settings.migrations_dir else MIGRATIONS_DIR
    applied = await migrate(settings.database_url, folder)
    conn = await connect(settings.database_url)
    try:
        created = await ensure_order_partitions(conn, args.partitions_ahead)
    finally:
        await conn.close()
    print(f"migrations applied: {len(applied)}" + (f" ({', '.join(applied)})" if applied else ""))
    if created:
        print(f"order partitions created: {', '.join(created)}")
    return 0


async def cmd_partitions(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.db import connect
    from core_write.partitions import ensure_order_partitions

    conn = await connect(settings.database_url)
    try:
        created = await ensure_order_partitions(conn, args.ahead)
    finally:
        await conn.close()
    print(f"order partitions created: {', '.join(created) if created else 'none needed'}")
    return 0


async def cmd_relay(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.resources import open_resources
    from indexer.relay import Relay
    from rustok_search.signals import stop_event

    if settings.relay_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.relay_metrics_port, addr=settings.api_host)
    stop = stop_event()
    async with open_resources(settings) as res:
        await Relay(res.pool, res.redis, settings).run(stop)
    return 0


async def cmd_indexer(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.resources import open_resources
    from indexer.daemon import run_indexer
    from indexer.engines import engine_tasks
    from rustok_search.signals import stop_event

    if settings.indexer_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.indexer_metrics_port, addr=settings.api_host)
    stop = stop_event()
    async with open_resources(settings) as res:
        await run_indexer(res, stop, *engine_tasks(settings))
    return 0


async def cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.resources import open_resources
    from indexer.reindex import create_job, resolve_scope

    async with open_resources(settings, redis_required=False) as res:
        scope = await resolve_scope(res.pool, args.tenant, args.type, args.id)
        if args.engine:
            return await _mark_engine_rebuild(res.pool, settings, scope)
        if args.queue:
            job = await create_job(res.pool, scope, "cli")
            print(f"reindex job {job['id']} queued; the indexer daemon runs it")
            return 0
        job = await _reindex_with_progress(res.pool, settings, scope)
    print(f"reindex job {job['id']} {job['state']}: {job['done']}/{job['total']} documents "
          f"at {job['rate']:,.0f}/s" + (f" ({job['error']})" if job["error"] else ""))
    return 0 if job["state"] == "succeeded" else 1


async def _reindex_with_progress(pool: asyncpg.Pool, settings: Settings,
                                 scope: Scope) -> dict[str, Any]:
    """Run the reindex here, its bar following the job row's progress."""
    import uuid

    from indexer.reindex import Reindexer
    from rustok_search.progress import polled

    tag = f"cli:{uuid.uuid4()}"

    async def poll() -> tuple[int, int]:
        row = await pool.fetchrow("SELECT done, total FROM index_jobs WHERE requested_by = $1",
                                  tag)
        return (int(row["done"]), int(row["total"])) if row is not None else (0, 0)

    async with polled("reindexing documents", poll):
        return await Reindexer(pool, settings).run(scope, requested_by=tag)


async def _mark_engine_rebuild(pool: asyncpg.Pool, settings: Settings, scope: Scope) -> int:
    from indexer.meili.config import meili_config
    from indexer.meili.indexes import request_rebuild

    if "meilisearch" not in settings.engines:
        print("reindex --engine meilisearch: MEILISEARCH_URL is not set", file=sys.stderr)
        return 2
    if scope.doc_id is not None:
        print("reindex --engine rebuilds whole indexes: --id does not apply", file=sys.stderr)
        return 2
    marked = await request_rebuild(pool, meili_config(settings).prefix, scope.tenant_id,
                                   scope.doc_type)
    print(f"{marked} meilisearch index(es) marked; the elected indexer rebuilds each into a "
          "new index and swaps it in (searches keep the old one until then)")
    return 0


async def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when nothing drifted, or when `--repair` fixed the index tables (checked again)
    and queued the engines' drifted documents; 1 otherwise, and for any document that cannot
    be built (each named with its error)."""
    from core_write.resources import open_resources
    from indexer.engines import engine_readers
    from indexer.model import DOC_TYPES
    from indexer.reindex import resolve_scope
    from indexer.verify import repair, verify_engine, verify_postgres, verify_settings
    from rustok_search.progress import bar

    async with open_resources(settings) as res:
        scope = await resolve_scope(res.pool, args.tenant, None, None)
        tenant_ids = [scope.tenant_id] if scope.tenant_id else [
            r["id"] for r in await res.pool.fetch("SELECT id FROM tenants ORDER BY id")]
        drifts = []
        async with engine_readers(settings, res.redis, res.pool) as engines:
            with bar("verifying", len(DOC_TYPES) * (1 + len(engines))) as shown:
                for doc_type in DOC_TYPES:
                    shown.advance(0, note=f"postgres {doc_type}")
                    drifts.append(await verify_postgres(res.pool, doc_type, scope.tenant_id,
                                                        settings.index_drafts))
                    shown.advance()
                for engine in engines:
                    for doc_type in DOC_TYPES:
                        shown.advance(0, note=f"{engine.name} {doc_type}")
                        drifts.append(await verify_engine(res.pool, engine, doc_type,
                                                          tenant_ids))
                        shown.advance()
            # index settings are written straight to the engine (no queue): repaired here
            settings_drifts = [drift for engine in engines for drift in
                               await verify_settings(engine, tenant_ids, args.repair)]
        for drift in drifts:
            if args.repair and drift.total:
                await repair(res.pool, drift, settings.engines, settings.index_drafts)
            print(drift.summary())
        left = None
        if args.repair and any(drift.total for drift in drifts):
            left = sum([(await verify_postgres(res.pool, doc_type, scope.tenant_id,
                                               settings.index_drafts)).total
                        for doc_type in DOC_TYPES])
    return verify_outcome(drifts, args.repair, left, settings_drifts)


def verify_outcome(drifts: Sequence[Drift], repaired: bool, left: int | None = None,
                   settings: Sequence[SettingsDrift] = ()) -> int:
    """Print what verify found, repaired and could not build; the exit code: 0 when nothing
    is left to do, 1 for drift left unrepaired (`left`: the index tables' drift counted again
    after the repair; an engine's index settings that still differ after theirs) or
    documents that cannot be built."""
    for found in settings:
        print(found.summary())
    unsettled = [found for found in settings if found.left is None or found.left]
    if unsettled:
        print(f"settings drift: {len(unsettled)} index(es)"
              + ("" if repaired else " (verify --repair writes them again)"))
    failed = {doc: error for drift in drifts for doc, error in drift.failed.items()}
    for (doc_type, doc_id), error in sorted(failed.items(), key=lambda i: str(i[0])):
        print(f"cannot build {doc_type} {doc_id}: {error}")
    total = sum(drift.total for drift in drifts)
    if repaired and total:
        fixed = sum(drift.repaired for drift in drifts)
        queued = sum(d.repaired for d in drifts if d.backend != "postgres")
        print(f"repaired: {fixed} documents; the index tables checked again: "
              f"{left or 'no'} drift" + (f"; {queued} documents queued for the engines "
                                        "(the indexer applies them: run verify again to "
                                        "confirm)" if queued else ""))
    elif not total:
        print("no document drift" if settings else "no drift")
    else:
        print(f"drift: {total} documents (verify --repair fixes them)")
    if failed:
        print(f"{len(failed)} document(s) cannot be built")
    return 1 if failed or left or unsettled or (total and not repaired) else 0


async def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from rustok_search.signals import stop_event
    from rustok_search.supervisor import default_roles, supervise

    stop = stop_event()
    return await supervise(args.roles.split(",") if args.roles else default_roles(), stop)


async def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from rustok_search.signals import stop_event
    from search_api.app import serve

    await serve(settings, stop_event())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rustok-search",
        description="RusToK Search: indexing and search for headless commerce and content.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("migrate", help="create the database if needed and apply migrations")
    p.add_argument("--partitions-ahead", type=int, default=4, metavar="N",
                   help="also ensure order partitions for N quarters ahead (default 4)")
    p.set_defaults(run=cmd_migrate)

    p = sub.add_parser("partitions", help="manage commerce_orders partitions")
    psub = p.add_subparsers(dest="action", required=True)
    pe = psub.add_parser("ensure", help="create the partitions of the coming quarters")
    pe.add_argument("--ahead", type=int, default=4, metavar="N",
                    help="quarters after the current one (default 4)")
    pe.set_defaults(run=cmd_partitions)

    p = sub.add_parser("relay", help="publish the outbox onto Redis Streams (daemon)")
    p.set_defaults(run=cmd_relay)

    p = sub.add_parser("serve", help="run relay, indexer (and the API) as one supervised group")
    p.add_argument("--roles", help="comma-separated roles to run (default: all installed)")
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser("indexer", help="consume events and keep every index current (daemon)")
    p.set_defaults(run=cmd_indexer)

    p = sub.add_parser("reindex", help="rebuild documents without downtime")
    p.add_argument("--tenant", metavar="SLUG", help="only this tenant (slug or id)")
    p.add_argument("--type", choices=("products", "content"), help="only this document type")
    p.add_argument("--id", help="only this document (needs --type)")
    p.add_argument("--queue", action="store_true",
                   help="queue the job for the indexer daemon instead of running it here")
    p.add_argument("--engine", choices=("meilisearch",),
                   help="instead: rebuild this engine's indexes of the scope from the index "
                        "tables, each into a new index swapped in when complete")
    p.set_defaults(run=cmd_reindex)

    p = sub.add_parser("verify", help="compare every backend with the source (documents, and "
                       "the index settings engines keep); exit 1 on drift")
    p.add_argument("--tenant", metavar="SLUG", help="only this tenant (slug or id)")
    p.add_argument("--repair", action="store_true",
                   help="re-index exactly the drifted documents and write drifted engine index "
                        "settings again")
    p.set_defaults(run=cmd_verify)

    p = sub.add_parser("api", help="serve the HTTP search API (daemon)")
    p.set_defaults(run=cmd_api)

    add_keys_parser(sub)
    add_tenants_parser(sub)
    add_import_parser(sub, _positive)
    add_relevance_parsers(sub)
    add_engines_parser(sub)

    from rustok_search.demo import add_parser as add_demo_parser

    add_demo_parser(sub, _positive, _non_negative)

    p = sub.add_parser("bench", help="run a benchmark: catalog, reindex, scale, write_path, "
                       "freshness, search, import (python -m bench)", add_help=False)
    p.add_argument("scenario", nargs=argparse.REMAINDER, help="SCENARIO [options]")
    p.set_defaults(run=None)
    return parser


def run_bench(argv: Sequence[str]) -> int:
    """Benchmarks read their own options and run their own event loop; `bench/` lives in the
    source tree beside this package, not in the installed packages."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if not (root / "bench" / "__main__.py").is_file():
        print("rustok-search bench: bench/ is only in a source checkout", file=sys.stderr)
        return 2
    sys.path.insert(0, str(root))
    from bench.__main__ import main as bench_main

    return bench_main(argv)


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _event_loop_runner(command: str) -> Callable[[Coroutine[Any, Any, int]], int]:
    """uvloop for the API where it is installed (a faster event loop for many small
    requests); the standard loop elsewhere."""
    if command == "api":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run
    return asyncio.run


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # its options (even --help) belong to the scenario
        return run_bench(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"rustok-search: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        code: int = _event_loop_runner(args.command)(args.run(args, settings))
        return code
    except RustokError as exc:
        print(f"rustok-search {args.command}: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
