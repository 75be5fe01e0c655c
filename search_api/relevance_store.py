"""Where a tenant's relevance settings and merchandising rules live (PostgreSQL), how they
change (each change one transaction: the tenant's version goes up and an audit row records
who changed what, before and after) and how API processes read them (a per-process cache of
`RELEVANCE_CACHE_SECONDS`, so a change is live on every replica within that delay)
(I/O: PostgreSQL)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from cachetools import TTLCache

from core_write.errors import Conflict, NotFound
from indexer.model import DOC_TYPES
from indexer.model.relevance import SearchSettings, TextRules
from indexer.reindex import Scope, create_job
from search_api.queries import QUERIES
from search_api.rules import MAX_RULES, Rule, RuleSpec

MAX_AUDIT_PAGE = 200


@dataclass(frozen=True)
class Relevance:
    """One tenant's settings and rules as one version."""

    version: int = 0
    settings: SearchSettings = field(default_factory=SearchSettings)
    rules: tuple[Rule, ...] = ()
    _by_locale: dict[str | None, TextRules] = field(default_factory=dict, compare=False,
                                                   repr=False)

    def text_rules(self, locale: str | None = None) -> TextRules:
        """The settings' text rules for a search in `locale` (made once per locale)."""
        rules = self._by_locale.get(locale)
        if rules is None:
            rules = self._by_locale[locale] = TextRules.of(self.settings, locale)
        return rules


def _rule(row: Mapping[str, Any]) -> Rule:
    body = row["rule"] if isinstance(row["rule"], dict) else json.loads(row["rule"])
    return Rule.model_validate({**body, "id": row["id"], "position": row["position"],
                                "enabled": row["enabled"], "version": row["version"],
                                "created_at": row["created_at"],
                                "updated_at": row["updated_at"]})


def _settings(raw: Any) -> SearchSettings:
    data = raw if isinstance(raw, dict) else json.loads(raw or "{}")
    return SearchSettings.model_validate(data)


async def load(pool: asyncpg.Pool | asyncpg.Connection, tenant_id: uuid.UUID) -> Relevance:
    row = await pool.fetchrow(QUERIES["relevance_settings"], tenant_id)
    rules = await pool.fetch(QUERIES["relevance_rules"], tenant_id)
    if row is None and not rules:
        return Relevance()
    return Relevance(version=row["version"] if row else 0,
                     settings=_settings(row["settings"]) if row else SearchSettings(),
                     rules=tuple(_rule(r) for r in rules))


class RelevanceCache:
    """Each tenant's `Relevance` of the last `ttl` seconds (0: read on every search)."""

    def __init__(self, ttl: float, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._entries: TTLCache[uuid.UUID, Relevance] = TTLCache(
            maxsize=max_entries, ttl=max(ttl, 0.0), timer=clock)

    async def get(self, pool: asyncpg.Pool, tenant_id: uuid.UUID) -> Relevance:
        if self.ttl <= 0:
            return await load(pool, tenant_id)
        try:
            return self._entries[tenant_id]
        except KeyError:
            found = self._entries[tenant_id] = await load(pool, tenant_id)
            return found

    def forget(self, tenant_id: uuid.UUID) -> None:
        """This process's own change is live at once here (others within `ttl`)."""
        self._entries.pop(tenant_id, None)


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


async def _bump(conn: asyncpg.Connection, tenant_id: uuid.UUID, actor: str
                ) -> tuple[int, SearchSettings]:
    row = await conn.fetchrow(QUERIES["relevance_lock"], tenant_id, actor)
    return int(row["version"]), _settings(row["settings"])


def settings_json(settings: SearchSettings) -> dict[str, Any]:
    return settings.model_dump(mode="json", by_alias=True)


async def _write(conn: asyncpg.Connection, tenant_id: uuid.UUID, before: SearchSettings,
                 after: SearchSettings, actor: str) -> None:
    """Store `after`; a change of the field weights also queues a reindex of the tenant's
    documents of the types it changes (the tier is part of every index), in the same
    transaction: the job runs once the weights are committed and builds with them."""
    weights = after.field_weights
    await conn.execute(QUERIES["relevance_settings_write"], tenant_id,
                       _json(settings_json(after)), weights.letters("product"),
                       weights.letters("content"))
    changed = [t for t in DOC_TYPES if before.field_weights.of(t) != weights.of(t)]
    if changed:
        job = await create_job(conn, Scope(tenant_id, changed[0] if len(changed) == 1
                                           else None), f"field_weights:{actor}")
        await conn.execute(QUERIES["relevance_weights_job"], tenant_id, job["id"])


async def weights_state(pool: asyncpg.Pool, tenant_id: uuid.UUID) -> dict[str, Any]:
    """Whether the tenant's field weights are live (`field_weights_live`: the reindex job
    their last change queued, or a later one of the same documents, has succeeded) and that
    job (`field_weights_job`: null when none ran)."""
    row = await pool.fetchrow(QUERIES["relevance_weights_state"], tenant_id)
    if row is None:
        return {"field_weights_live": True, "field_weights_job": None}
    return {"field_weights_live": row["covered"],
            "field_weights_job": {"id": str(row["id"]), "state": row["state"],
                                  "done": row["done"], "total": row["total"],
                                  "error": row["error"]}}


async def replace_settings(pool: asyncpg.Pool, tenant_id: uuid.UUID,
                           settings: SearchSettings, actor: str) -> int:
    """Store `settings` as the tenant's whole setting; the new version."""
    async with pool.acquire() as conn, conn.transaction():
        version, before = await _bump(conn, tenant_id, actor)
        await _write(conn, tenant_id, before, settings, actor)
        await conn.execute(QUERIES["relevance_audit_add"], tenant_id, version, "settings",
                           None, "update", actor, _json(settings_json(before)),
                           _json(settings_json(settings)))
    return version


async def patch_settings(pool: asyncpg.Pool, tenant_id: uuid.UUID, patch: Mapping[str, Any],
                         actor: str) -> tuple[int, SearchSettings]:
    """Merge `patch` into the stored setting (top-level fields replaced, nested objects
    merged one level deep), validate the result and store it."""
    async with pool.acquire() as conn, conn.transaction():
        version, before = await _bump(conn, tenant_id, actor)
        merged = settings_json(before)
        for name, value in patch.items():
            if isinstance(value, dict) and isinstance(merged.get(name), dict):
                merged[name] = {**merged[name], **value}
            else:
                merged[name] = value
        # invalid: the exception rolls the transaction back, the version included
        after = SearchSettings.model_validate(merged)
        await _write(conn, tenant_id, before, after, actor)
        await conn.execute(QUERIES["relevance_audit_add"], tenant_id, version, "settings",
                           None, "update", actor, _json(settings_json(before)),
                           _json(settings_json(after)))
    return version, after


async def record(pool: asyncpg.Pool, tenant_id: uuid.UUID, actor: str, before: Any,
                 after: Any) -> int:
    """A change of a setting kept elsewhere (the tenant's `in_stock_first`) in the version
    and the audit trail."""
    async with pool.acquire() as conn, conn.transaction():
        version, _ = await _bump(conn, tenant_id, actor)
        await conn.execute(QUERIES["relevance_audit_add"], tenant_id, version, "settings",
                           None, "update", actor, _json(before), _json(after))
    return version


def _rule_body(spec: RuleSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json", include={"description", "condition", "consequences"})


def rule_json(rule: Rule) -> dict[str, Any]:
    return rule.model_dump(mode="json")


async def create_rule(pool: asyncpg.Pool, tenant_id: uuid.UUID, spec: RuleSpec,
                      actor: str) -> tuple[int, Rule]:
    async with pool.acquire() as conn, conn.transaction():
        version, _ = await _bump(conn, tenant_id, actor)  # also serializes the count check
        if await conn.fetchval(QUERIES["relevance_rule_count"], tenant_id) >= MAX_RULES:
            raise Conflict(f"a tenant has at most {MAX_RULES} rules; delete one first",
                           field="rules")
        row = await conn.fetchrow(QUERIES["relevance_rule_insert"], uuid.uuid4(), tenant_id,
                                  spec.position, spec.enabled, _json(_rule_body(spec)), actor)
        rule = _rule(row)
        await conn.execute(QUERIES["relevance_audit_add"], tenant_id, version, "rule", rule.id,
                           "create", actor, None, _json(rule_json(rule)))
    return version, rule


async def get_rule(pool: asyncpg.Pool | asyncpg.Connection, tenant_id: uuid.UUID,
                   rule_id: uuid.UUID) -> Rule:
    row = await pool.fetchrow(QUERIES["relevance_rule_get"], tenant_id, rule_id)
    if row is None:
        raise NotFound("rule", rule_id)
    return _rule(row)


async def replace_rule(pool: asyncpg.Pool, tenant_id: uuid.UUID, rule_id: uuid.UUID,
                       spec: RuleSpec, actor: str) -> tuple[int, Rule]:
    async with pool.acquire() as conn, conn.transaction():
        version, _ = await _bump(conn, tenant_id, actor)
        before = await get_rule(conn, tenant_id, rule_id)
        row = await conn.fetchrow(QUERIES["relevance_rule_update"], tenant_id, rule_id,
                                  spec.position, spec.enabled, _json(_rule_body(spec)), actor)
        rule = _rule(row)
        await conn.execute(QUERIES["relevance_audit_add"], tenant_id, version, "rule", rule_id,
                           "update", actor, _json(rule_json(before)), _json(rule_json(rule)))
    return version, rule


async def delete_rule(pool: asyncpg.Pool, tenant_id: uuid.UUID, rule_id: uuid.UUID,
                      actor: str) -> int:
    async with pool.acquire() as conn, conn.transaction():
        version, _ = await _bump(conn, tenant_id, actor)
        before = await get_rule(conn, tenant_id, rule_id)
        await conn.execute(QUERIES["relevance_rule_delete"], tenant_id, rule_id)
        await conn.execute(QUERIES["relevance_audit_add"], tenant_id, version, "rule", rule_id,
                           "delete", actor, _json(rule_json(before)), None)
    return version


async def audit(pool: asyncpg.Pool, tenant_id: uuid.UUID, limit: int) -> list[dict[str, Any]]:
    out = []
    for row in await pool.fetch(QUERIES["relevance_audit_list"], tenant_id, limit):
        item = dict(row)
        for name in ("before", "after"):
            if isinstance(item[name], str):
                item[name] = json.loads(item[name])
        item["at"] = item["at"].isoformat() if isinstance(item["at"], datetime) else item["at"]
        item["subject_id"] = str(item["subject_id"]) if item["subject_id"] else None
        out.append(item)
    return out
