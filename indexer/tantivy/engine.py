"""Wiring of the Tantivy engine into the indexer daemon and `verify`: the follower body run by
the process elected engine writer, and the id/version reader verify compares (I/O: through
the follower and the reader)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis

from core_write.backoff import pause
from core_write.resources import Resources
from core_write.settings import Settings
from indexer import index_rows, metrics
from indexer.digest import Copy, content_digest
from indexer.model import DocType
from indexer.model.engines import tantivy_values
from indexer.tantivy.config import TantivyConfig
from indexer.tantivy.errors import WriterLocked
from indexer.tantivy.follower import TantivyFollower
from indexer.tantivy.loader import LiveFollower
from indexer.tantivy.reader import TantivyReader
from indexer.tantivy.schema import field_specs, stored_values
from indexer.verify import SettingsDrift

log = logging.getLogger(__name__)

_LOCKED_RETRY = 1.0
_GAUGE_EVERY = 15.0


def tantivy_config(settings: Settings) -> TantivyConfig:
    return TantivyConfig(
        index_dir=settings.tantivy_dir, writer_heap_mb=settings.tantivy_writer_heap_mb,
        writer_threads=settings.tantivy_writer_threads,
        commit_interval_ms=settings.tantivy_commit_interval_ms,
        commit_max_docs=settings.tantivy_commit_max_docs,
        commit_bulk_docs=settings.tantivy_commit_bulk_docs,
        commit_bulk_interval_ms=settings.tantivy_commit_bulk_interval_ms,
        batch=settings.tantivy_batch,
        currencies=settings.tantivy_currencies,
        poll_interval_ms=settings.tantivy_poll_interval_ms,
    )


async def run_tantivy_follower(res: Resources, stop: asyncio.Event,
                               live: LiveFollower | None = None) -> None:
    """Follow the queue until `stop`; a generation that is empty (first start) or built
    with an older schema is rebuilt from the index tables in the background meanwhile.
    While it runs, `live` holds the follower (for the reindex jobs of this process)."""
    config = tantivy_config(res.settings)
    follower = TantivyFollower(res.pool, res.redis, res.settings, config)
    rebuilds: list[asyncio.Task[str]] = []
    try:
        while not stop.is_set():
            try:
                await follower.open()
                break
            except WriterLocked as exc:
                # a previous writer (maybe a dying process) still holds the directory
                log.warning("%s; retrying", exc, extra={"action": "tantivy_locked"})
                await pause(_LOCKED_RETRY, stop)
        if stop.is_set():
            return
        for doc_type in sorted(follower.needs_rebuild):
            pages = index_rows.stream_rows(res.pool, doc_type, config.batch)
            task = asyncio.create_task(follower.rebuild(doc_type, pages),
                                       name=f"tantivy-rebuild-{doc_type}")
            task.add_done_callback(_log_rebuild)
            rebuilds.append(task)
        rebuilds.append(asyncio.create_task(_gauges(follower, stop), name="tantivy-gauges"))
        with live.hold(follower) if live is not None else contextlib.nullcontext():
            await follower.run(stop)
    finally:
        for task in rebuilds:
            task.cancel()
        await asyncio.gather(*rebuilds, return_exceptions=True)
        await follower.close()


async def _gauges(follower: TantivyFollower, stop: asyncio.Event) -> str:
    """Documents per live generation, every `_GAUGE_EVERY` seconds."""
    while not stop.is_set():
        try:
            counts = await asyncio.to_thread(follower.document_counts)
            for doc_type, count in counts.items():
                metrics.DOCUMENT_COUNT.labels("tantivy", doc_type).set(count)
        except Exception as exc:  # a gauge must never stop the follower
            log.warning("tantivy gauges not refreshed: %s", exc)
        await pause(_GAUGE_EVERY, stop)
    return "stopped"


def _log_rebuild(task: asyncio.Task[str]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("tantivy rebuild failed: %s", exc, exc_info=exc,
                  extra={"action": "tantivy_rebuild_failed"})


class TantivyIds:
    """Ids, versions and content digests of one tenant's documents in the live generation
    (for verify)."""

    name = "tantivy"

    def __init__(self, settings: Settings, redis: aioredis.Redis) -> None:
        config = tantivy_config(settings)
        self._currencies = config.currencies
        self._reader = TantivyReader(config, redis, settings.stream_prefix)

    async def versions(self, doc_type: DocType, tenant_id: uuid.UUID) -> Mapping[str, int]:
        await self._reader.refresh(force=True)
        return await self._reader.ids(tenant_id, doc_type=doc_type)

    async def copies(self, doc_type: DocType, tenant_id: uuid.UUID) -> Mapping[str, Copy]:
        await self._reader.refresh(force=True)
        return await self._reader.copies(tenant_id, doc_type=doc_type)

    def digest(self, doc_type: DocType, row: Mapping[str, Any]) -> str:
        """What the stored fields of the document of `row` digest to."""
        doc = tantivy_values(doc_type, row, self._currencies)
        stored = {spec.name for spec in field_specs(doc_type, self._currencies) if spec.stored}
        return content_digest(stored_values(doc_type, {
            name: value if isinstance(value, list) else [value]
            for name, value in doc.items() if name in stored}))

    async def settings_drift(self, tenant_id: uuid.UUID) -> list[SettingsDrift]:
        """None: Tantivy keeps no settings (the API applies the tenant's at query time)."""
        return []

    async def repair_settings(self, drift: SettingsDrift) -> list[str]:
        return []

    def close(self) -> None:
        self._reader.release()
