"""`rustok-search tenants ...` and `rustok-search keys ...`: the operator commands for tenants
and API keys, thin over `search_api.accounts` (I/O: PostgreSQL)."""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from core_write.settings import Settings

if TYPE_CHECKING:
    from search_api.accounts import TenantInfo


async def cmd_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.resources import open_resources
    from search_api.accounts import KeyCreate, issue_key
    from search_api.errors import from_validation

    try:
        spec = KeyCreate(tenant=args.tenant, role=args.role, expires_in=args.expires_in,
                         expires_at=args.expires_at, label=args.label)
    except ValidationError as exc:
        print(f"rustok-search keys create: {from_validation(exc).detail}", file=sys.stderr)
        return 2
    async with open_resources(settings, redis_required=False) as res:
        new = await issue_key(res.pool, spec)
    print(new.key)
    info = new.info
    print(f"{info.role} key {info.id}"
          + (f" for tenant {info.tenant}" if info.tenant else " (every tenant)")
          + (f", expires {info.expires_at:%Y-%m-%d %H:%M:%S%z}" if info.expires_at else "")
          + "; store it now, it is not shown again", file=sys.stderr)
    return 0


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


async def cmd_keys_list(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.resources import open_resources
    from search_api.accounts import list_keys

    async with open_resources(settings, redis_required=False) as res:
        found = await list_keys(res.pool, args.tenant, args.all)
    print(f"{'ID':36}  {'PREFIX':10}  {'ROLE':8}  {'TENANT':20}  {'STATE':7}  "
          f"{'EXPIRES':16}  {'LAST USED':16}  LABEL")
    for k in found:
        print(f"{k.id!s:36}  {k.key_prefix:10}  {k.role:8}  {k.tenant or '*':20}  "
              f"{k.state:7}  {_when(k.expires_at):16}  {_when(k.last_used_at):16}  {k.label}")
    return 0


async def cmd_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.resources import open_resources
    from search_api.accounts import revoke_key

    async with open_resources(settings, redis_required=False) as res:
        info = await revoke_key(res.pool, args.id)
    print(f"key {info.id} revoked; API processes refuse it within API_KEY_CACHE_SECONDS "
          f"({settings.api_key_cache_seconds:g} s)")
    return 0


async def cmd_keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.resources import open_resources
    from search_api.accounts import parse_duration, rotate_key

    expires_at = args.expires_at
    if args.expires_in:
        expires_at = datetime.now(UTC) + parse_duration(args.expires_in)
    async with open_resources(settings, redis_required=False) as res:
        new = await rotate_key(res.pool, args.id, expires_at)
    print(new.key)
    print(f"key {new.info.id} replaces {args.id} (revoked); store it now, it is not shown "
          "again", file=sys.stderr)
    return 0


async def cmd_tenants_create(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.resources import open_resources
    from core_write.services.tenants import TenantCreate
    from core_write.unit import CoreWrite
    from search_api.accounts import add_tenant
    from search_api.errors import from_validation

    try:
        spec = TenantCreate(slug=args.slug, name=args.name or args.slug,
                            settings={"language": args.language,  # type: ignore[arg-type]
                                      "in_stock_first": args.in_stock_first},
                            modules=tuple(m for m in args.modules.split(",") if m))
    except ValidationError as exc:
        print(f"rustok-search tenants create: {from_validation(exc).detail}", file=sys.stderr)
        return 2
    async with open_resources(settings, redis_required=False) as res:
        tenant, _ = await add_tenant(CoreWrite(res.pool), spec)
    _print_tenant(tenant)
    return 0


async def cmd_tenants_update(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.resources import open_resources
    from core_write.services.tenants import TenantUpdate
    from core_write.unit import CoreWrite
    from search_api.accounts import change_tenant
    from search_api.errors import from_validation

    given = {name: value for name, value in (("language", args.language),
                                             ("in_stock_first", args.in_stock_first))
             if value is not None}
    try:
        spec = TenantUpdate(name=args.name,
                            settings=given or None)  # type: ignore[arg-type]
    except ValidationError as exc:
        print(f"rustok-search tenants update: {from_validation(exc).detail}", file=sys.stderr)
        return 2
    async with open_resources(settings, redis_required=False) as res:
        tenant, _ = await change_tenant(CoreWrite(res.pool), args.tenant, spec)
    _print_tenant(tenant)
    return 0


def _print_tenant(tenant: TenantInfo) -> None:
    print(f"{tenant.slug}\t{tenant.id}\t{tenant.language}\t{','.join(tenant.modules) or '-'}"
          f"\t{tenant.name}")


async def cmd_tenants_list(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.resources import open_resources
    from search_api.accounts import list_tenants

    async with open_resources(settings, redis_required=False) as res:
        for tenant in await list_tenants(res.pool):
            _print_tenant(tenant)
    return 0


async def cmd_tenants_show(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.resources import open_resources
    from search_api.accounts import list_keys, show_tenant

    async with open_resources(settings, redis_required=False) as res:
        tenant = await show_tenant(res.pool, args.tenant)
        keys = await list_keys(res.pool, str(tenant.id))
    for name, value in (("slug", tenant.slug), ("id", tenant.id), ("name", tenant.name),
                        ("language", tenant.language),
                        ("stock first", "yes" if tenant.in_stock_first else "no"),
                        ("modules", ",".join(tenant.modules) or "-"),
                        ("created", _when(tenant.created_at)),
                        ("active keys", ", ".join(f"{k.role} {k.key_prefix}" for k in keys)
                         or "-")):
        print(f"{name + ':':13}{value}")
    return 0


def _time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("an ISO 8601 time like 2027-01-01T00:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _duration(text: str) -> str:
    from search_api.accounts import parse_duration

    try:
        parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_keys_parser(sub: Any) -> None:
    p = sub.add_parser("keys", help="API keys: create, list, revoke, rotate")
    ksub = p.add_subparsers(dest="action", required=True)
    kc = ksub.add_parser("create", help="create an API key and print it once")
    kc.add_argument("--tenant", metavar="SLUG", help="its tenant (slug or id); not for operator")
    kc.add_argument("--role", choices=("search", "admin", "operator"), required=True)
    _expiry_options(kc)
    kc.add_argument("--label", default="", help="a note for people (at most 100 characters)")
    kc.set_defaults(run=cmd_keys_create)
    kl = ksub.add_parser("list", help="list keys (never their secrets)")
    kl.add_argument("--tenant", metavar="SLUG", help="only this tenant's keys")
    kl.add_argument("--all", action="store_true", help="include revoked and expired keys")
    kl.set_defaults(run=cmd_keys_list)
    kr = ksub.add_parser("revoke", help="revoke a key by id")
    kr.add_argument("id", type=uuid.UUID)
    kr.set_defaults(run=cmd_keys_revoke)
    ko = ksub.add_parser("rotate", help="replace a key by a new one (printed once), revoking it")
    ko.add_argument("id", type=uuid.UUID)
    _expiry_options(ko)
    ko.set_defaults(run=cmd_keys_rotate)


def _expiry_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--expires-in", type=_duration, metavar="DURATION",
                       help="valid for this long: 90d, 12h, 30m, 2w (default: until revoked)")
    group.add_argument("--expires-at", type=_time, metavar="TIME",
                       help="valid until this ISO 8601 time (UTC unless it says otherwise)")


def add_tenants_parser(sub: Any) -> None:
    p = sub.add_parser("tenants", help="tenants: create, update, list, show")
    tsub = p.add_subparsers(dest="action", required=True)
    tc = tsub.add_parser("create", help="create a tenant")
    tc.add_argument("slug", help="lowercase letters, digits and inner '-'")
    tc.add_argument("--name", help="display name (default: the slug)")
    tc.add_argument("--language", default="simple",
                    help="PostgreSQL text search configuration, e.g. english (default simple)")
    tc.add_argument("--modules", default="content,commerce",
                    help="comma-separated enabled modules (default content,commerce)")
    tc.add_argument("--in-stock-first", action=argparse.BooleanOptionalAction, default=True,
                    help="rank products in stock before those out of stock (default on)")
    tc.set_defaults(run=cmd_tenants_create)
    tu = tsub.add_parser("update", help="change a tenant's name or settings (the settings "
                                        "not given keep their values)")
    tu.add_argument("tenant", metavar="SLUG", help="slug or id")
    tu.add_argument("--name", help="display name")
    tu.add_argument("--language", help="PostgreSQL text search configuration, e.g. english")
    tu.add_argument("--in-stock-first", action=argparse.BooleanOptionalAction, default=None,
                    help="rank products in stock before those out of stock")
    tu.set_defaults(run=cmd_tenants_update)
    tl = tsub.add_parser("list", help="every tenant: slug, id, language, modules, name")
    tl.set_defaults(run=cmd_tenants_list)
    ts = tsub.add_parser("show", help="one tenant with its active keys")
    ts.add_argument("tenant", metavar="SLUG", help="slug or id")
    ts.set_defaults(run=cmd_tenants_show)
