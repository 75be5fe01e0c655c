"""Tenants and API keys as operators manage them: create, list, show; keys also revoke and
rotate, with an optional expiry. One home for the CLI, the HTTP admin routes and GraphQL
(I/O: PostgreSQL)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core_write.errors import Conflict, NotFound, ValidationFailed
from core_write.services.tenants import TenantCreate, TenantUpdate, create_tenant, update_tenant
from core_write.unit import CoreWrite
from search_api.auth import Role, create_key
from search_api.queries import QUERIES

_DURATION = re.compile(r"^\s*(\d{1,9})\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_LIFETIME = timedelta(days=3660)


def parse_duration(text: str) -> timedelta:
    """`90d`, `12h`, `30m`, `45s`, `2w` or plain seconds (pure)."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError("a duration like 90d, 12h, 30m, 45s or 2w")
    value = timedelta(seconds=int(match[1]) * _UNITS[match[2]])
    if not timedelta(0) < value <= MAX_LIFETIME:
        raise ValueError("must be between 1 second and 10 years")
    return value


class KeyCreate(BaseModel):
    """A new key: its tenant (slug or id; none for operator keys), role, and an optional
    expiry given as `expires_in` (a duration like `90d`) or `expires_at` (a time)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tenant: str | None = Field(default=None, min_length=1, max_length=100)
    role: Role
    expires_in: str | None = Field(default=None, max_length=20)
    expires_at: datetime | None = None
    label: str = Field(default="", max_length=100)

    @model_validator(mode="after")
    def _one_expiry(self) -> KeyCreate:
        if self.expires_in is not None and self.expires_at is not None:
            raise ValueError("give expires_in or expires_at, not both")
        if self.expires_in is not None:
            parse_duration(self.expires_in)
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expires_at needs a time zone (e.g. 2027-01-01T00:00:00Z)")
        return self

    def expiry(self, now: datetime | None = None) -> datetime | None:
        if self.expires_in is not None:
            return (now or datetime.now(UTC)) + parse_duration(self.expires_in)
        return self.expires_at


class KeyInfo(BaseModel):
    """A stored key as listed: never its hash or the key itself."""

    model_config = ConfigDict(frozen=True)
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    tenant: str | None
    role: Role
    key_prefix: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    rotated_from: uuid.UUID | None

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= datetime.now(UTC):
            return "expired"
        return "active"


class NewKey(BaseModel):
    """A created or rotated key: `key` is shown this once."""

    key: str
    info: KeyInfo


class TenantInfo(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: uuid.UUID
    slug: str
    name: str
    language: str
    in_stock_first: bool
    modules: list[str]
    created_at: datetime


async def list_tenants(pool: asyncpg.Pool) -> list[TenantInfo]:
    return [TenantInfo.model_validate(dict(r)) for r in
            await pool.fetch(QUERIES["tenant_list"], None)]


async def show_tenant(pool: asyncpg.Pool, ref: str) -> TenantInfo:
    row = await pool.fetchrow(QUERIES["tenant_list"], ref)
    if row is None:
        raise NotFound("tenant", ref)
    return TenantInfo.model_validate(dict(row))


async def add_tenant(core: CoreWrite, spec: TenantCreate) -> tuple[TenantInfo, int | None]:
    """Create a tenant through `core_write` (its event reaches the outbox) and return it with
    the consistency token."""
    written = await core.call(create_tenant, spec)
    return await show_tenant(core.pool, str(written.value["id"])), written.token


async def change_tenant(core: CoreWrite, ref: str,
                        spec: TenantUpdate) -> tuple[TenantInfo, int | None]:
    """Update a tenant (slug or id) through `core_write`: the settings given replace theirs,
    the others keep their values. Returns it with the consistency token."""
    written = await core.call(update_tenant, await tenant_id_of(core.pool, ref), spec)
    return await show_tenant(core.pool, str(written.value["id"])), written.token


async def tenant_id_of(pool: asyncpg.Pool, ref: str) -> uuid.UUID:
    row = await pool.fetchrow(QUERIES["tenant_by_ref"], ref)
    if row is None:
        raise NotFound("tenant", ref)
    tenant_id: uuid.UUID = row["id"]
    return tenant_id


async def list_keys(pool: asyncpg.Pool, tenant: str | None = None,
                    include_inactive: bool = False) -> list[KeyInfo]:
    """Keys of `tenant` (slug or id; None: every key), live ones only unless asked."""
    tenant_id = await tenant_id_of(pool, tenant) if tenant else None
    return [KeyInfo.model_validate(dict(r)) for r in
            await pool.fetch(QUERIES["key_list"], tenant_id, include_inactive)]


async def get_key(pool: asyncpg.Pool, key_id: uuid.UUID) -> KeyInfo:
    row = await pool.fetchrow(QUERIES["key_get"], key_id)
    if row is None:
        raise NotFound("key", key_id)
    return KeyInfo.model_validate(dict(row))


async def issue_key(pool: asyncpg.Pool, spec: KeyCreate) -> NewKey:
    key, stored = await create_key(pool, spec.tenant, spec.role, expires_at=spec.expiry(),
                                   label=spec.label)
    return NewKey(key=key, info=await get_key(pool, stored.id))


async def revoke_key(pool: asyncpg.Pool, key_id: uuid.UUID) -> KeyInfo:
    """Revoke a key (idempotent). API processes refuse it within API_KEY_CACHE_SECONDS."""
    if await pool.fetchval(QUERIES["key_revoke"], key_id) is None:
        raise NotFound("key", key_id)
    return await get_key(pool, key_id)


async def rotate_key(pool: asyncpg.Pool, key_id: uuid.UUID,
                     expires_at: datetime | None = None) -> NewKey:
    """A new key with the old one's tenant, role, label and expiry (or `expires_at`), then
    the old one revoked: created first, so a failure in between leaves both working, never
    neither."""
    old = await get_key(pool, key_id)
    if old.state != "active":
        raise Conflict(f"key {key_id} is {old.state}; only an active key can be rotated",
                       field="id")
    if expires_at is not None and expires_at.tzinfo is None:
        raise ValidationFailed("expires_at", "needs a time zone")
    key, stored = await create_key(pool, str(old.tenant_id) if old.tenant_id else None,
                                   old.role, expires_at=expires_at or old.expires_at,
                                   label=old.label, rotated_from=old.id)
    await pool.fetchval(QUERIES["key_revoke"], key_id)
    return NewKey(key=key, info=await get_key(pool, stored.id))


def key_json(info: KeyInfo) -> dict[str, Any]:
    return {**info.model_dump(mode="json"), "state": info.state}


__all__ = ["KeyCreate", "KeyInfo", "NewKey", "TenantInfo", "add_tenant", "change_tenant",
           "get_key", "issue_key", "key_json", "list_keys", "list_tenants", "parse_duration",
           "tenant_id_of",
           "revoke_key", "rotate_key", "show_tenant"]
