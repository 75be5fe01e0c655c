"""`rustok-search settings|synonyms|rules ...`: a tenant's relevance settings, synonyms and
merchandising rules for scripts, thin over `search_api.relevance_store` (the same code the
HTTP admin routes use) (I/O: PostgreSQL; JSON on standard input and output)."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from typing import Any

from pydantic import ValidationError

from core_write.settings import Settings

ACTOR = "cli"


def _read(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
        return json.loads(text)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"rustok-search: cannot read JSON from {path}: {exc}") from None


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _invalid(command: str, exc: ValidationError) -> int:
    from search_api.errors import from_validation

    problem = from_validation(exc)
    for error in problem.errors:
        print(f"rustok-search {command}: {error['field']}: {error['message']}",
              file=sys.stderr)
    return 2


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from core_write.errors import Conflict, NotFound
    from core_write.resources import open_resources
    from indexer.model.relevance import SearchSettings, Synonyms
    from search_api import relevance_store as store
    from search_api.accounts import tenant_id_of
    from search_api.rules import RuleSpec

    command = f"{args.command} {args.action}"
    async with open_resources(settings, redis_required=False) as res:
        pool = res.pool
        try:
            tenant = await tenant_id_of(pool, args.tenant)
            if args.command == "settings":
                # with whether the field weights are live (their change queues a reindex)
                if args.action == "get":
                    found = await store.load(pool, tenant)
                    _print({"version": found.version,
                            "settings": store.settings_json(found.settings),
                            **await store.weights_state(pool, tenant)})
                elif args.action == "put":
                    new = SearchSettings.model_validate(_read(args.file))
                    _print({"version": await store.replace_settings(pool, tenant, new, ACTOR),
                            **await store.weights_state(pool, tenant)})
                else:
                    version, _ = await store.patch_settings(pool, tenant, _read(args.file),
                                                            ACTOR)
                    _print({"version": version, **await store.weights_state(pool, tenant)})
            elif args.command == "synonyms":
                if args.action == "get":
                    found = await store.load(pool, tenant)
                    _print(found.settings.synonyms.model_dump(mode="json", by_alias=True))
                else:
                    given = Synonyms.model_validate(_read(args.file) if args.action == "put"
                                                    else {})
                    version, _ = await store.patch_settings(
                        pool, tenant, {"synonyms": given.model_dump(mode="json",
                                                                    by_alias=True)}, ACTOR)
                    _print({"version": version})
            elif args.action == "list":
                _print([store.rule_json(r) for r in (await store.load(pool, tenant)).rules])
            elif args.action == "add":
                version, rule = await store.create_rule(
                    pool, tenant, RuleSpec.model_validate(_read(args.file)), ACTOR)
                _print({"version": version, "rule": store.rule_json(rule)})
            else:
                _print({"version": await store.delete_rule(pool, tenant, args.id, ACTOR)})
        except ValidationError as exc:
            return _invalid(command, exc)
        except (NotFound, Conflict) as exc:
            print(f"rustok-search {command}: {exc.message}", file=sys.stderr)
            return 1
    print(f"live on every API process within RELEVANCE_CACHE_SECONDS "
          f"({settings.relevance_cache_seconds:g} s)"
          + ("; field_weights once their reindex job has succeeded (field_weights_live)"
             if args.command == "settings" else ""), file=sys.stderr)
    return 0


def add_relevance_parsers(sub: Any) -> None:
    def tenant(p: argparse.ArgumentParser) -> None:
        p.add_argument("--tenant", metavar="SLUG", required=True, help="slug or id")
        p.set_defaults(run=_run)

    def file(p: argparse.ArgumentParser) -> None:
        p.add_argument("file", metavar="FILE", help="a JSON file, or - for standard input")

    p = sub.add_parser("settings", help="a tenant's relevance settings: get, put, patch (a "
                       "change of field_weights queues a reindex of the tenant)")
    ssub = p.add_subparsers(dest="action", required=True)
    tenant(ssub.add_parser("get", help="print the settings and their version"))
    for action, text in (("put", "replace the settings"),
                         ("patch", "change some settings (objects merge one level deep)")):
        sp = ssub.add_parser(action, help=text)
        file(sp)
        tenant(sp)

    p = sub.add_parser("synonyms", help="a tenant's synonyms: get, put, clear")
    ysub = p.add_subparsers(dest="action", required=True)
    tenant(ysub.add_parser("get", help="print the synonyms"))
    yp = ysub.add_parser("put", help='replace them: {"groups": [[...]], "one_way": [...]}')
    file(yp)
    tenant(yp)
    tenant(ysub.add_parser("clear", help="remove every synonym"))

    p = sub.add_parser("rules", help="a tenant's merchandising rules: list, add, delete")
    rsub = p.add_subparsers(dest="action", required=True)
    tenant(rsub.add_parser("list", help="the rules in evaluation order"))
    ra = rsub.add_parser("add", help="add a rule from a JSON file")
    file(ra)
    tenant(ra)
    rd = rsub.add_parser("delete", help="delete a rule by id")
    rd.add_argument("id", type=uuid.UUID)
    tenant(rd)
