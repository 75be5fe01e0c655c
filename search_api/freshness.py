"""Freshness: how far behind the index is per tenant (the `stale` flag of every answer and
/readyz), and read-your-writes: wait (bounded, polling) until an outbox position is indexed
for a tenant (I/O: PostgreSQL).

A tenant's answers are stale while one of its changes older than SEARCH_STALE_AFTER_SECONDS
waits for the indexer or the engine. The API process reads the backlog once per interval in
the background (not once per search).

Position N counts as indexed once outbox row N is acknowledged by the indexer (or already
purged, which happens only after acknowledgement) and, for an engine backend, no change of the
tenant queued up to that acknowledgement still waits in `engine_queue`. Tokens name positions,
not a high-water mark, so out-of-order commits cannot make a later token look indexed early.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web

from core_write.backoff import Backoff, pause
from indexer import engine_queue
from search_api.backends import SearchBackend
from search_api.queries import QUERIES
from search_api.wiring import BACKEND, RESOURCES, SETTINGS

log = logging.getLogger(__name__)
POLL_SECONDS = 0.02
MAX_POLL_SECONDS = 0.2
BACKLOG_INTERVAL = 1.0
"""Seconds between two backlog reads; stretched to 10x the read's own duration when the
backlog is so large that reading it takes long."""


class Backlog:
    """The index's lag per tenant, as of the last `refresh()`."""

    def __init__(self, pool: asyncpg.Pool, engine: str | None, stale_after: float,
                 redis: Any = None, flag: str = "") -> None:
        self.pool = pool
        self.engine = engine
        self.stale_after = stale_after
        self.redis = redis
        self.flag = flag
        self.by_tenant: dict[uuid.UUID, float] = {}
        self.caught_up = False
        """Whether the lag has been below `stale_after` once: until then the initial indexing
        is behind and /readyz says so. Recorded in Redis under `flag`, so an API process
        started later (a restarted replica) does not wait for a quiet moment again."""

    @property
    def lag(self) -> float:
        return max(self.by_tenant.values(), default=0.0)

    async def refresh(self) -> float:
        self.by_tenant = await tenant_lags(self.pool, self.engine)
        if not self.caught_up:
            with contextlib.suppress(Exception):  # Redis down: /readyz reports it
                if self.lag < self.stale_after:
                    self.caught_up = True
                    if self.redis is not None:
                        await self.redis.set(self.flag, "1")
                elif self.redis is not None and await self.redis.exists(self.flag):
                    self.caught_up = True
        return self.lag

    def stale(self, tenant_id: uuid.UUID) -> bool:
        return self.by_tenant.get(tenant_id, 0.0) > self.stale_after

    async def follow(self, interval: float = BACKLOG_INTERVAL) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.refresh()
            except Exception as exc:  # noqa: BLE001 - keep the last reading, try again
                log.warning("reading the index backlog failed: %s", exc,
                            extra={"action": "backlog"})
            took = time.monotonic() - started
            await pause(max(interval, 10 * took))


BACKLOG = web.AppKey("backlog", Backlog)


def engine_of(backend: SearchBackend) -> str | None:
    """The engine whose queue a backend waits for (None: the Postgres tables themselves)."""
    return backend.name if backend.name != "postgres" else None


async def backlog_ctx(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context (after the resources'): read the backlog once, then keep it current
    in the background."""
    engine = engine_of(app[BACKEND])
    backlog = Backlog(app[RESOURCES].pool, engine, app[SETTINGS].stale_after_seconds,
                      app[RESOURCES].redis,
                      app[SETTINGS].key(f"caught-up:{engine or 'postgres'}"))
    with contextlib.suppress(Exception):  # /readyz reports a failing read
        await backlog.refresh()
    app[BACKLOG] = backlog
    task = asyncio.create_task(backlog.follow())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def is_indexed(pool: asyncpg.Pool, token: int, tenant_id: uuid.UUID,
                     engine: str | None, since: datetime) -> bool:
    """`since`: the request's start, standing for the acknowledgement of a purged row."""
    row = await pool.fetchrow(QUERIES["token_acked"], token)
    if row is not None and row["acked_at"] is None:
        return False
    if engine is None:
        return True
    return not await engine_queue.waiting(pool, engine, tenant_id,
                                          since if row is None else row["acked_at"])


async def tenant_lags(pool: asyncpg.Pool, engine: str | None) -> dict[uuid.UUID, float]:
    """Seconds behind per tenant with anything waiting: its oldest outbox row the indexer has
    not applied, and its oldest change waiting for `engine` (None: the Postgres tables)."""
    lags = {row["tenant_id"]: float(row["lag"])
            for row in await pool.fetch(QUERIES["outbox_tenant_lag"])}
    if engine:
        for tenant_id, seconds in (await engine_queue.tenant_ages(pool, engine)).items():
            lags[tenant_id] = max(seconds, lags.get(tenant_id, 0.0))
    return lags


async def lag(pool: asyncpg.Pool, engine: str | None) -> float:
    """Seconds behind over every tenant (0 when nothing waits)."""
    return max((await tenant_lags(pool, engine)).values(), default=0.0)


async def wait_indexed(pool: asyncpg.Pool, token: int, tenant_id: uuid.UUID,
                       engine: str | None, timeout: float) -> bool:
    """True once `token` is indexed; False if `timeout` seconds pass first."""
    since = datetime.now(UTC)
    deadline = time.monotonic() + timeout
    backoff = Backoff(POLL_SECONDS, MAX_POLL_SECONDS)
    while True:
        if await is_indexed(pool, token, tenant_id, engine, since):
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        await backoff.wait(at_most=left)
