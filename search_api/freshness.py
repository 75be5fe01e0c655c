"""Read-your-writes: wait (bounded, polling) until an outbox position is indexed for a tenant
(I/O: PostgreSQL).

Position N counts as indexed once outbox row N is acknowledged by the indexer (or already
purged, which happens only after acknowledgement) and, for an engine backend, no change of the
tenant queued up to that acknowledgement still waits in `engine_queue`. Tokens name positions,
not a high-water mark, so out-of-order commits cannot make a later token look indexed early.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import asyncpg

from indexer import engine_queue
from search_api.queries import QUERIES

POLL_SECONDS = 0.02
MAX_POLL_SECONDS = 0.2


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


async def lag(pool: asyncpg.Pool, engine: str | None) -> float:
    """Seconds behind: the oldest unacknowledged outbox row, and the oldest change waiting
    for `engine` (None: the Postgres tables only)."""
    behind = float(await pool.fetchval(QUERIES["outbox_lag"]) or 0)
    return max(behind, await engine_queue.age(pool, engine)) if engine else behind


async def wait_indexed(pool: asyncpg.Pool, token: int, tenant_id: uuid.UUID,
                       engine: str | None, timeout: float) -> bool:
    """True once `token` is indexed; False if `timeout` seconds pass first."""
    since = datetime.now(UTC)
    deadline = time.monotonic() + timeout
    delay = POLL_SECONDS
    while True:
        if await is_indexed(pool, token, tenant_id, engine, since):
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        await asyncio.sleep(min(delay, left))
        delay = min(delay * 2, MAX_POLL_SECONDS)
