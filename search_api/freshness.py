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

from search_api.queries import QUERIES

POLL_SECONDS = 0.02
MAX_POLL_SECONDS = 0.2


async def is_indexed(pool: asyncpg.Pool, token: int, tenant_id: uuid.UUID,
                     engine: str | None, since: datetime) -> bool:
    indexed = await pool.fetchval(QUERIES["token_indexed"], token, tenant_id, engine, since)
    return bool(indexed)


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
