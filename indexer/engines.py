"""The search engines configured with `RUSTOK_ENGINES` (plus Meilisearch when
`MEILISEARCH_URL` is set): their followers (run by the indexer process elected as engine
writer) and their readers for `verify` (I/O: engines)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import redis.asyncio as aioredis

from core_write.resources import Resources
from core_write.settings import Settings
from indexer.daemon import Follower, LoaderFactory
from indexer.verify import EngineIds


def engine_tasks(settings: Settings) -> tuple[Follower | None, LoaderFactory | None]:
    """The follower body for the configured engines (each engine's follower runs as its own
    task; the first to fail stops the others), or None when there is none; and what lets
    the reindex jobs of the same process feed Tantivy directly while it writes it: one
    `LiveFollower` handed to both."""
    bodies: list[Follower] = []
    loader: LoaderFactory | None = None
    if "tantivy" in settings.engines:
        from indexer.tantivy.engine import run_tantivy_follower
        from indexer.tantivy.loader import LiveFollower

        live = LiveFollower()
        loader = live.loader
        bodies.append(functools.partial(run_tantivy_follower, live=live))
    if "meilisearch" in settings.engines:
        from indexer.meili.engine import run_meili_follower

        bodies.append(run_meili_follower)
    if len(bodies) <= 1:
        return (bodies[0] if bodies else None), loader

    async def follow(res: Resources, stop: asyncio.Event) -> None:
        tasks = [asyncio.create_task(body(res, stop)) for body in bodies]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

    return follow, loader


@asynccontextmanager
async def engine_readers(
    settings: Settings, redis: aioredis.Redis, pool: asyncpg.Pool | None = None,
) -> AsyncIterator[list[EngineIds]]:
    """Readers of the configured engines, for verify (with `pool`, the Meilisearch reader
    reads each tenant on the instance it is placed on; without, on the first)."""
    readers: list[EngineIds] = []
    tantivy_reader = meili_reader = None
    if "tantivy" in settings.engines:
        from indexer.tantivy.engine import TantivyIds

        tantivy_reader = TantivyIds(settings, redis)
        readers.append(tantivy_reader)
    if "meilisearch" in settings.engines:
        from indexer.meili.engine import MeiliIds

        meili_reader = MeiliIds(settings, pool)
        readers.append(meili_reader)
    try:
        yield readers
    finally:
        if tantivy_reader is not None:
            tantivy_reader.close()
        if meili_reader is not None:
            await meili_reader.close()
