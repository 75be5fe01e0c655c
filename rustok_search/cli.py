"""`rustok-search`: subcommands for operators (I/O: whatever each subcommand runs).

Settings are read here, in `main()`, and handed to the code they configure; logging is
configured here too.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence

from core_write.errors import RustokError
from core_write.settings import Settings, SettingsError, load_settings
from rustok_search.logs import configure_logging

log = logging.getLogger("rustok_search")

Command = Callable[[argparse.Namespace, Settings], Awaitable[int]]


async def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.db import connect
    from core_write.migrations import migrate
    from core_write.partitions import ensure_order_partitions

    applied = await migrate(settings.database_url)
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

    stop = stop_event()
    async with open_resources(settings) as res:
        await Relay(res.pool, res.redis, settings).run(stop)
    return 0


async def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.demo import DemoSpec, load_demo
    from core_write.resources import open_resources

    spec = DemoSpec(products=args.products, nodes=args.nodes, tenants=args.tenants,
                    seed=args.seed, concurrency=args.concurrency)
    async with open_resources(settings, redis_required=False) as res:
        report = await load_demo(res.pool, spec)
    print(report.summary())
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

    p = sub.add_parser("demo", help="demo data")
    dsub = p.add_subparsers(dest="action", required=True)
    dl = dsub.add_parser("load", help="write a deterministic demo catalog and content set")
    dl.add_argument("--products", type=_non_negative, default=2000)
    dl.add_argument("--nodes", type=_non_negative, default=1000)
    dl.add_argument("--tenants", type=_positive, default=3)
    dl.add_argument("--seed", type=int, default=42)
    dl.add_argument("--concurrency", type=_positive, default=4,
                    help="parallel writer connections (default 4)")
    dl.set_defaults(run=cmd_demo)
    return parser


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"rustok-search: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        code: int = asyncio.run(args.run(args, settings))
        return code
    except RustokError as exc:
        print(f"rustok-search {args.command}: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
