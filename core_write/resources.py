"""The connections a process holds for its lifetime, opened and closed in one place
(I/O: PostgreSQL and Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

from core_write.db import create_pool
from core_write.errors import Unavailable
from core_write.migrations import MIGRATIONS_DIR, require_current_schema
from core_write.settings import Settings


@dataclass(frozen=True)
class Resources:
    settings: Settings
    pool: asyncpg.Pool
    redis: aioredis.Redis


def redis_client(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, decode_responses=False, health_check_interval=30)


@asynccontextmanager
async def open_resources(
    settings: Settings, *, redis_required: bool = True, statement_timeout_ms: int | None = None
) -> AsyncIterator[Resources]:
    pool = await create_pool(settings.database_url, settings.db_pool_min, settings.db_pool_max,
                             statement_timeout_ms)
    client = redis_client(settings.redis_url)
    try:
        folder = Path(settings.migrations_dir) if settings.migrations_dir else MIGRATIONS_DIR
        async with pool.acquire() as conn:
            await require_current_schema(conn, folder)
        if redis_required:
            try:
                await client.ping()
            except (OSError, aioredis.ConnectionError) as exc:
                raise Unavailable(f"Redis unavailable at {settings.redis_url}: {exc}") from exc
        yield Resources(settings, pool, client)
    finally:
        await client.aclose()
        await pool.close()
