"""Which Meilisearch instance holds each tenant's indexes (`engine_placements`), read by the
follower and the API, and the move requests operators file there (I/O: PostgreSQL, Redis;
`choose` is pure).

Why it is built this way:
- A tenant is placed once, by the one writer (the elected follower), when its first document
  is written: on the instance holding the fewest tenants (ties: configuration order), so a
  new instance takes the new tenants. Its place never changes except by a move, which ends
  with one UPDATE of `instance`.
- Readers cache a tenant's row for `MEILISEARCH_PLACEMENT_TTL_MS` (default 2 s). The mover
  announces every change on the Redis channel `{stream prefix}:meili-placements` and every
  reader listening drops its copy at once; the TTL bounds the delay for a reader that missed
  the message (Redis restarting). The mover deletes the old copy only after that delay, so a
  reader that still sends a tenant's searches to the old instance finds its indexes there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from core_write.backoff import Backoff
from core_write.errors import Conflict, NotFound, ValidationFailed
from indexer.meili.config import ENGINE, MeiliConfig

log = logging.getLogger(__name__)

CHANNEL = "meili-placements"
"""The Redis channel (under the stream prefix) a placement change is announced on."""


def choose(names: Sequence[str], tenants: Mapping[str, int]) -> str:
    """The instance a new tenant goes to: the one holding the fewest tenants, the first
    configured among equals (pure)."""
    if not names:
        raise ValueError("no Meilisearch instance configured")
    return min(names, key=lambda name: (tenants.get(name, 0), names.index(name)))


@dataclass(frozen=True)
class Placement:
    tenant_id: uuid.UUID
    instance: str
    state: str = "placed"
    """`placed`, or `moving` to `target`."""
    target: str | None = None
    move_done: int = 0
    move_total: int = 0
    move_error: str | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Placement:
        return cls(row["tenant_id"], row["instance"], row["state"], row["target"],
                   row["move_done"], row["move_total"], row["move_error"])


_COLUMNS = "tenant_id, instance, state, target, move_done, move_total, move_error"


class Placements:
    """The placement table as one process sees it: rows cached for the TTL, dropped when a
    change is announced (`listen`)."""

    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis | None, stream_prefix: str,
                 config: MeiliConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.pool = pool
        self.redis = redis
        self.channel = f"{stream_prefix}:{CHANNEL}"
        self.names = config.names
        self.ttl = config.placement_ttl_ms / 1000
        self.clock = clock
        self._cache: dict[uuid.UUID, tuple[float, Placement | None]] = {}

    # ---- reading --------------------------------------------------------------------------
    async def get(self, tenant_id: uuid.UUID) -> Placement | None:
        """The tenant's placement (None: it has no indexes yet), at most a TTL old."""
        cached = self._cache.get(tenant_id)
        now = self.clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        row = await self.pool.fetchrow(
            f"SELECT {_COLUMNS} FROM engine_placements WHERE engine = $1 AND tenant_id = $2",
            ENGINE, tenant_id)
        placement = Placement.of(row) if row is not None else None
        if self.ttl > 0:
            self._cache[tenant_id] = (now + self.ttl, placement)
        return placement

    def forget(self, tenant_id: uuid.UUID | None = None) -> None:
        """Drop the cached row of a tenant (of every tenant without one)."""
        if tenant_id is None:
            self._cache.clear()
        else:
            self._cache.pop(tenant_id, None)

    async def tenants(self) -> dict[str, int]:
        """Tenants placed on each configured instance (0 for an empty one); a tenant being
        moved counts where it is served from."""
        rows = await self.pool.fetch(
            "SELECT instance, count(*) AS n FROM engine_placements WHERE engine = $1 "
            "GROUP BY instance", ENGINE)
        counts = {name: 0 for name in self.names}
        counts.update({r["instance"]: int(r["n"]) for r in rows})
        return counts

    async def all(self) -> list[Placement]:
        return [Placement.of(r) for r in await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM engine_placements WHERE engine = $1 ORDER BY tenant_id",
            ENGINE)]

    async def moving(self) -> list[Placement]:
        """The moves requested and not finished, oldest request first."""
        return [Placement.of(r) for r in await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM engine_placements WHERE engine = $1 AND state = 'moving' "
            "ORDER BY move_requested_at, tenant_id", ENGINE)]

    # ---- the writer's side (the elected follower) ----------------------------------------
    async def place(self, tenant_id: uuid.UUID, instance: str | None = None) -> Placement:
        """The tenant's placement, placing it first when it has none: on `instance` (where
        its indexes were found) or the least-loaded instance."""
        found = await self.get(tenant_id)
        if found is not None:
            return found
        chosen = instance or choose(self.names, await self.tenants())
        try:
            await self.pool.execute(
                "INSERT INTO engine_placements (engine, tenant_id, instance) "
                "VALUES ($1, $2, $3) ON CONFLICT (engine, tenant_id) DO NOTHING",
                ENGINE, tenant_id, chosen)
        except asyncpg.ForeignKeyViolationError:  # the tenant is gone: nothing to record
            return Placement(tenant_id, chosen)
        self.forget(tenant_id)
        placed = await self.get(tenant_id)
        assert placed is not None
        log.info("tenant %s placed on meilisearch instance %s", tenant_id, placed.instance,
                 extra={"action": "meili_place", "tenant": str(tenant_id)})
        await self.announce(tenant_id)
        return placed

    async def progress(self, tenant_id: uuid.UUID, done: int, total: int | None = None
                       ) -> None:
        await self.pool.execute(
            "UPDATE engine_placements SET move_done = $3, move_total = coalesce($4, move_total) "
            "WHERE engine = $1 AND tenant_id = $2", ENGINE, tenant_id, done, total)

    async def flip(self, tenant_id: uuid.UUID, source: str, target: str) -> bool:
        """The move's one UPDATE: the tenant is served from `target` from now on (False when
        the row is no longer the move that started)."""
        status: str = await self.pool.execute(
            "UPDATE engine_placements SET instance = target, state = 'placed', target = NULL, "
            "moved_at = now(), move_error = NULL WHERE engine = $1 AND tenant_id = $2 "
            "AND state = 'moving' AND instance = $3 AND target = $4",
            ENGINE, tenant_id, source, target)
        self.forget(tenant_id)
        await self.announce(tenant_id)
        return status.endswith(" 1")

    async def fail(self, tenant_id: uuid.UUID, error: str) -> None:
        """A move that could not finish: the tenant stays where it is, with the error."""
        await self.pool.execute(
            "UPDATE engine_placements SET state = 'placed', target = NULL, move_error = $3 "
            "WHERE engine = $1 AND tenant_id = $2", ENGINE, tenant_id, error[:2000])
        self.forget(tenant_id)
        await self.announce(tenant_id)

    async def announce(self, tenant_id: uuid.UUID) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.publish(self.channel, str(tenant_id))
        except (RedisError, OSError) as exc:  # the TTL bounds the delay without it
            log.warning("placement change of %s not announced (%s)", tenant_id, exc,
                        extra={"action": "meili_place"})

    # ---- listening ------------------------------------------------------------------------
    async def listen(self, stop: asyncio.Event) -> None:
        """Drop a tenant's cached row when a change of it is announced, until `stop`; after
        a lost connection, drop every row (a message may have been missed)."""
        if self.redis is None:
            return
        pubsub: PubSub | None = None
        backoff = Backoff(0.2, 2.0)
        try:
            while not stop.is_set():
                try:
                    if pubsub is None:
                        pubsub = self.redis.pubsub()
                        await pubsub.subscribe(self.channel)
                        self.forget()
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=1.0)
                    backoff.reset()
                    if message is not None and message.get("type") == "message":
                        self._forget_text(message.get("data"))
                except (RedisError, OSError) as exc:
                    log.warning("placement channel unavailable (%s)", exc,
                                extra={"action": "meili_placements"})
                    await _close(pubsub)
                    pubsub = None
                    await backoff.wait(stop)
        finally:
            await _close(pubsub)

    def _forget_text(self, data: Any) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        try:
            self.forget(uuid.UUID(text))
        except ValueError:
            self.forget()


async def _close(pubsub: PubSub | None) -> None:
    if pubsub is not None:
        with contextlib.suppress(RedisError, OSError):
            await pubsub.aclose()  # type: ignore[no-untyped-call]


# ---- operators' requests ---------------------------------------------------------------------
async def request_move(pool: asyncpg.Pool, config: MeiliConfig, tenant_id: uuid.UUID,
                       target: str) -> Placement:
    """File a move of the tenant's indexes to the instance `target`; the elected follower
    runs it. Raises ValidationFailed for an unknown instance, NotFound for a tenant without
    indexes yet, Conflict for a tenant already there or being moved."""
    if target not in config.names:
        raise ValidationFailed("to", f"no Meilisearch instance named {target!r} (configured: "
                                     f"{', '.join(config.names)})")
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM engine_placements WHERE engine = $1 AND tenant_id = $2 "
            "FOR UPDATE", ENGINE, tenant_id)
        if row is None:
            raise NotFound("tenant", tenant_id,
                           f"tenant {tenant_id} has no Meilisearch indexes yet (it is placed "
                           "when its first document is indexed)")
        current = Placement.of(row)
        if current.state == "moving":
            raise Conflict(f"tenant {tenant_id} is already being moved from "
                           f"{current.instance} to {current.target}")
        if current.instance == target:
            raise Conflict(f"tenant {tenant_id} is already on instance {target}")
        moved = await conn.fetchrow(
            f"UPDATE engine_placements SET state = 'moving', target = $3, move_done = 0, "
            f"move_total = 0, move_error = NULL, move_requested_at = now() "
            f"WHERE engine = $1 AND tenant_id = $2 RETURNING {_COLUMNS}",
            ENGINE, tenant_id, target)
    return Placement.of(moved)


async def read_placement(pool: asyncpg.Pool, tenant_id: uuid.UUID) -> Placement | None:
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM engine_placements WHERE engine = $1 AND tenant_id = $2",
        ENGINE, tenant_id)
    return Placement.of(row) if row is not None else None


@dataclass(frozen=True)
class InstanceReport:
    """One instance as `engines list` shows it."""

    name: str
    url: str
    ok: bool
    error: str | None
    tenants: int
    documents: int | None
    """In this deployment's indexes (None: the instance did not answer)."""
    moving: int
    """Tenants being moved to or from it."""

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "ok": self.ok, "error": self.error,
                "tenants": self.tenants, "documents": self.documents, "moving": self.moving}


async def survey(pool: asyncpg.Pool, config: MeiliConfig, *, for_search: bool = False
                 ) -> list[InstanceReport]:
    """Every configured instance: whether it answers (to an admin key; `for_search`: to a
    search key, as the API holds), the tenants placed on it, the documents of this
    deployment's indexes there (None when it or the key does not tell) and the moves
    touching it."""
    from indexer.meili import client as meili
    from indexer.meili.indexes import MeiliIndexes

    placements = Placements(pool, None, "", config)
    tenants = await placements.tenants()
    moving = await placements.moving()
    reports: list[InstanceReport] = []
    for server in config.servers:
        own = config.on(server.name)
        error: str | None = None
        documents: int | None = None
        async with meili.open_client(own) as client:
            try:
                await meili.check(client, own, for_search=for_search)
            except Exception as exc:  # noqa: BLE001 - the report says what failed
                error = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            if error is None:
                with contextlib.suppress(Exception):  # a search key may not read stats
                    counts = await MeiliIndexes(pool, client, own,
                                                server.name).count_documents()
                    documents = sum(counts.values())
        reports.append(InstanceReport(
            server.name, server.url, error is None, error, tenants.get(server.name, 0),
            documents, sum(1 for p in moving if server.name in (p.instance, p.target))))
    return reports
