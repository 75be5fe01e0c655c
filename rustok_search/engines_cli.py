"""`rustok-search engines list|move`: the Meilisearch instances of the deployment and moving a
tenant between them (I/O: PostgreSQL, Meilisearch; the move itself runs in the elected
indexer, this command files it and follows its progress)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from typing import Any

from core_write.settings import Settings

POLL_SECONDS = 0.5
REPORT_EVERY = 5.0
"""Without a terminal (logs, CI), a progress line at most this often."""


async def cmd_engines_list(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.resources import open_resources
    from indexer.meili.config import meili_config
    from indexer.meili.placement import survey

    if "meilisearch" not in settings.engines:
        print("engines: no Meilisearch configured (MEILISEARCH_URL or MEILISEARCH_INSTANCES)",
              file=sys.stderr)
        return 2
    async with open_resources(settings, redis_required=False) as res:
        reports = await survey(res.pool, meili_config(settings))
    print(f"{'INSTANCE':16}  {'HEALTH':6}  {'TENANTS':>7}  {'DOCUMENTS':>10}  {'MOVING':>6}  URL")
    for r in reports:
        docs = "-" if r.documents is None else f"{r.documents:,}"
        print(f"{r.name:16}  {'up' if r.ok else 'DOWN':6}  {r.tenants:>7}  {docs:>10}  "
              f"{r.moving:>6}  {r.url}" + (f"  ({r.error})" if r.error else ""))
    return 0 if all(r.ok for r in reports) else 1


async def cmd_engines_move(args: argparse.Namespace, settings: Settings) -> int:
    """File the move, then (unless --no-wait) follow it until the placement flipped: exit 0,
    or the move failed: exit 1 with its error."""
    from core_write.resources import open_resources
    from indexer.meili.config import meili_config
    from indexer.meili.placement import read_placement, request_move
    from indexer.reindex import resolve_scope

    if "meilisearch" not in settings.engines:
        print("engines move: no Meilisearch configured", file=sys.stderr)
        return 2
    async with open_resources(settings, redis_required=False) as res:
        scope = await resolve_scope(res.pool, args.tenant, None, None)
        assert scope.tenant_id is not None
        filed = await request_move(res.pool, meili_config(settings), scope.tenant_id, args.to)
        print(f"moving tenant {args.tenant} from {filed.instance} to {args.to}: filed; the "
              "elected indexer builds its indexes there (searches stay on "
              f"{filed.instance} until the switch)")
        if args.no_wait:
            return 0
        return await _follow(res.pool, scope.tenant_id, filed.instance, args.to, args.timeout,
                             read_placement)


async def _follow(pool: Any, tenant_id: uuid.UUID, source: str, target: str,
                  timeout: float, read: Any) -> int:
    from rustok_search.progress import bar, on_terminal

    started = time.monotonic()
    reported = 0.0
    with bar("moving documents", None) as shown:
        while True:
            placement = await read(pool, tenant_id)
            if placement is None:
                print("the tenant was deleted during the move", file=sys.stderr)
                return 1
            if placement.state == "placed":
                elapsed = time.monotonic() - started
                if placement.instance == target:
                    print(f"moved: {placement.move_done:,} documents now served from {target} "
                          f"({elapsed:.1f} s); the copy on {source} is deleted once every "
                          "reader has switched")
                    return 0
                print(f"the move failed, the tenant stays on {placement.instance}: "
                      f"{placement.move_error or 'no reason recorded'}", file=sys.stderr)
                return 1
            shown.update(placement.move_done, placement.move_total or None)
            now = time.monotonic()
            if not on_terminal() and now - reported >= REPORT_EVERY:
                reported = now
                print(f"moving: {placement.move_done:,}/{placement.move_total:,} documents "
                      f"({now - started:.0f} s)", flush=True)
            if timeout and now - started > timeout:
                print(f"still moving after {timeout:.0f} s; it goes on in the indexer "
                      "(`engines list` shows it)", file=sys.stderr)
                return 1
            await asyncio.sleep(POLL_SECONDS)


def add_engines_parser(sub: Any) -> None:
    p = sub.add_parser("engines", help="Meilisearch instances: list them, move a tenant")
    esub = p.add_subparsers(dest="action", required=True)
    el = esub.add_parser("list", help="each instance: health, tenants, documents, moves")
    el.set_defaults(run=cmd_engines_list)
    em = esub.add_parser("move", help="move a tenant's indexes to another instance, without "
                                      "downtime (run by the elected indexer)")
    em.add_argument("--tenant", required=True, metavar="SLUG", help="tenant slug or id")
    em.add_argument("--to", required=True, metavar="NAME",
                    help="the instance (a name of MEILISEARCH_INSTANCES)")
    em.add_argument("--no-wait", action="store_true", help="file the move and return")
    em.add_argument("--timeout", type=float, default=0, metavar="SECONDS",
                    help="stop following after this long (the move goes on; default: none)")
    em.set_defaults(run=cmd_engines_move)
