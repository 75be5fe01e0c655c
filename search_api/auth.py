"""API keys: generation, SHA-256 hashing, lookup, and the middleware that authenticates every
`/v1/` request (I/O: PostgreSQL for lookups and creation).

A key's tenant and role come from the database only; no request parameter can widen them.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast

import asyncpg
from aiohttp import web
from cachetools import TTLCache

from core_write.errors import NotFound, ValidationFailed
from core_write.ids import new_id
from search_api.errors import Problem
from search_api.queries import QUERIES
from search_api.scope import SearchScope

Role = Literal["search", "admin", "operator"]
ROLES: tuple[Role, ...] = ("search", "admin", "operator")
KEY_PREFIX = "rsk_"
TOUCH_INTERVAL = 60.0
"""A key's `last_used_at` is written at most once per this many seconds (per process, and
the SQL skips rows written less than a minute ago), never once per request."""
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiKey:
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    role: Role
    expires_at: datetime | None = None
    in_stock_first: bool = True
    """The tenant's `in_stock_first` setting (read with the key, so a change reaches a
    process within API_KEY_CACHE_SECONDS)."""
    language: str = "simple"
    """Its tenant's text search configuration (`SearchScope.language`)."""

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC))

    def scope(self) -> SearchScope:
        """What this key may search: its tenant, drafts for admin keys only."""
        if self.tenant_id is None:
            raise Problem(403, "operator keys do not search; use a search or admin key")
        return SearchScope(tenant_id=self.tenant_id, include_drafts=self.role == "admin",
                           in_stock_first=self.in_stock_first, language=self.language)

    def may_manage(self, tenant_id: uuid.UUID | None) -> bool:
        """May this key reindex or watch jobs of `tenant_id` (None: every tenant)?"""
        if self.role == "operator":
            return True
        return self.role == "admin" and tenant_id is not None and tenant_id == self.tenant_id


API_KEY = web.RequestKey("api_key", ApiKey)
"""The authenticated key of a request (set by `authenticate`)."""


def generate_key() -> str:
    """A new random key: `rsk_` + 32 random bytes, base64url without padding."""
    raw = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return KEY_PREFIX + raw


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


async def create_key(pool: asyncpg.Pool, tenant: str | None, role: str, *,
                     expires_at: datetime | None = None, label: str = "",
                     rotated_from: uuid.UUID | None = None) -> tuple[str, ApiKey]:
    """Store a new key for `tenant` (slug or id; none for operators), valid until
    `expires_at` (None: until revoked), and return it once."""
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise ValidationFailed("expires_at", "must be in the future")
    if role not in ROLES:
        raise ValidationFailed("role", f"must be one of {', '.join(ROLES)}")
    tenant_id = None
    if role == "operator":
        if tenant:
            raise ValidationFailed("tenant", "operator keys belong to no tenant")
    else:
        if not tenant:
            raise ValidationFailed("tenant", f"a {role} key needs its tenant")
        row = await pool.fetchrow(QUERIES["tenant_by_ref"], tenant)
        if row is None:
            raise NotFound("tenant", tenant)
        tenant_id = row["id"]
    key = generate_key()
    await pool.execute(QUERIES["key_create"], new_id(), tenant_id, role, hash_key(key),
                       key[:len(KEY_PREFIX) + 6], expires_at, label, rotated_from)
    found = await lookup_key(pool, key)
    assert found is not None
    return key, found


async def lookup_key(pool: asyncpg.Pool, key: str) -> ApiKey | None:
    row = await pool.fetchrow(QUERIES["key_lookup"], hash_key(key))
    if row is None:
        return None
    return ApiKey(row["id"], row["tenant_id"], cast(Role, row["role"]), row["expires_at"],
                  bool(row["in_stock_first"]), row["language"])


class KeyUsage:
    """Records when keys were last used: one UPDATE per key per `interval` in this process
    (a failed write is logged, never fails the request it came with)."""

    def __init__(self, interval: float = TOUCH_INTERVAL, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.max_entries = max_entries
        self.clock = clock
        self._written: dict[uuid.UUID, float] = {}

    async def record(self, pool: asyncpg.Pool, key: ApiKey) -> bool:
        """Write `last_used_at` if this process has not for `interval`; True if it tried."""
        now = self.clock()
        last = self._written.get(key.id)
        if last is not None and now - last < self.interval:
            return False
        if len(self._written) >= self.max_entries:
            self._written.clear()
        self._written[key.id] = now
        try:
            await pool.execute(QUERIES["key_touch"], key.id)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("could not record the use of key %s: %s", key.id, exc,
                        extra={"action": "key_touch"})
        return True


class KeyCache:
    """Lookups of the last `ttl` seconds, by key hash: a search then costs no database round
    trip for its key. A revoked key (or a new one) is seen within `ttl`; 0 disables the
    cache. At most `max_entries` hashes are kept (the least recently used go first), unknown
    keys too, so a flood of made-up keys cannot grow memory or reach the database more than
    once each per `ttl`."""

    def __init__(self, ttl: float, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._entries: TTLCache[bytes, ApiKey | None] = TTLCache(
            maxsize=max_entries, ttl=max(ttl, 0.0), timer=clock)

    async def lookup(self, pool: asyncpg.Pool, key: str) -> ApiKey | None:
        if self.ttl <= 0:
            return await lookup_key(pool, key)
        digest = hash_key(key)
        try:
            return self._entries[digest]
        except KeyError:
            found = self._entries[digest] = await lookup_key(pool, key)
            return found


def presented_key(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Problem(401, "Authorization must be 'Bearer <key>'", slug="unauthorized",
                          headers={"WWW-Authenticate": "Bearer"})
        return value.strip()
    return request.headers.get("X-Api-Key")


def current_key(request: web.Request) -> ApiKey:
    if API_KEY not in request:
        raise Problem(401, "an API key is required", slug="unauthorized")
    return request[API_KEY]


def require_role(request: web.Request, *roles: Role) -> ApiKey:
    key = current_key(request)
    if key.role not in roles:
        raise Problem(403, f"a {key.role} key may not call this endpoint "
                           f"(needs {' or '.join(roles)})", slug="forbidden")
    return key


async def authenticate(request: web.Request, pool: asyncpg.Pool,
                       cache: KeyCache | None = None, usage: KeyUsage | None = None) -> ApiKey:
    key = presented_key(request)
    if not key:
        raise Problem(401, "an API key is required (Authorization: Bearer <key> or "
                           "X-Api-Key)", slug="unauthorized",
                      headers={"WWW-Authenticate": "Bearer"})
    if not key.startswith(KEY_PREFIX) or len(key) > 128:
        found = None
    else:
        found = await (cache.lookup(pool, key) if cache else lookup_key(pool, key))
    if found is None or found.expired():  # a cached key is refused the moment it expires
        raise Problem(401, "the API key is unknown, revoked or expired", slug="unauthorized",
                      headers={"WWW-Authenticate": "Bearer"})
    if usage is not None:
        await usage.record(pool, found)
    request[API_KEY] = found
    return found


def protected(request: web.Request) -> bool:
    return ((request.path.startswith("/v1/") or request.path == "/graphql")
            and request.method != "OPTIONS")


__all__ = ["API_KEY", "ApiKey", "KeyCache", "KeyUsage", "authenticate", "create_key", "current_key",
           "generate_key", "hash_key", "lookup_key", "protected", "require_role"]
