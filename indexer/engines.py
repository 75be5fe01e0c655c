"""The search engines configured with `RUSTOK_ENGINES`: their followers (run by the indexer
process elected as engine writer) and their readers for `verify` (I/O: engines)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

from core_write.resources import Resources
from core_write.settings import Settings
from indexer.daemon import Follower
from indexer.verify import EngineIds


def engine_follower(settings: Settings) -> Follower | None:
    """The follower body for the configured engines, or None when there is none."""
    if "tantivy" not in settings.engines:
        return None
    from indexer.tantivy.engine import run_tantivy_follower

    async def follow(res: Resources, stop: asyncio.Event) -> None:
        await run_tantivy_follower(res, stop)

    return follow


@asynccontextmanager
async def engine_readers(
    settings: Settings, redis: aioredis.Redis
) -> AsyncIterator[list[EngineIds]]:
    """Readers of the configured engines, for verify."""
    if "tantivy" not in settings.engines:
        yield []
        return
    from indexer.tantivy.engine import TantivyIds

    reader = TantivyIds(settings, redis)
    try:
        yield [reader]
    finally:
        reader.close()
