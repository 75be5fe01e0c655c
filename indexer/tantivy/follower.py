"""The Tantivy follower: the one writer of the live index generations, on the engine follower
skeleton (`indexer.follower`); it commits in small groups, tells readers, and rebuilds a
generation (I/O: PostgreSQL, Redis, the index directories).

Why it is built this way:
- Commit policy: commit when the queue is drained and the previous commit is at least
  `commit_interval_ms` old, when applied work has waited `commit_interval_ms`, or when
  `commit_max_docs` docs wait. An isolated change after a quiet spell is committed at once;
  a trickle is grouped, so there is never one commit per document under load.
- Within one commit window the queue is read with `seq > highest seq read`; every window
  starts again from the lowest seq, so a row that commits late with a lower seq (sequences are
  handed out at insert, not commit) is picked up by the next window, never skipped.
- A crash between commit and queue delete re-applies the doc (delete + add is idempotent).
- All tantivy calls run in `asyncio.to_thread`; the skeleton's lock serializes windows with
  the final step of a rebuild.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import redis.asyncio as aioredis
import tantivy
from redis.exceptions import RedisError

from core_write.backoff import pause
from indexer.engine_queue import QueueEntry
from indexer.follower import Docs, EngineFollower, Refused, Rows, Window
from indexer.tantivy.config import (
    DOC_TYPES,
    DocType,
    TantivyConfig,
    commit_channel,
    commit_counter_key,
)
from indexer.tantivy.schema import document_for
from indexer.tantivy.store import GenerationStore, open_writer

log = logging.getLogger(__name__)


class FollowerSettings(Protocol):
    @property
    def stream_prefix(self) -> str: ...


@dataclass
class _Live:
    name: str
    path: Path
    index: tantivy.Index
    writer: tantivy.IndexWriter


class TantivyFollower(EngineFollower[DocType, tantivy.IndexWriter]):
    label = "tantivy"

    def __init__(
        self, pool: asyncpg.Pool, redis: aioredis.Redis, settings: FollowerSettings,
        config: TantivyConfig,
    ) -> None:
        super().__init__(pool, redis, settings.stream_prefix, batch=config.batch,
                         poll_interval=config.poll_interval)
        self.engine = config.engine
        self.config = config
        self.stream_prefix = settings.stream_prefix
        self.stores = {dt: GenerationStore(config.index_dir, dt, config.currencies)
                       for dt in DOC_TYPES}
        self._live: dict[DocType, _Live] = {}
        self._last_commit = 0.0
        self.needs_rebuild: set[DocType] = set()
        """Doc types whose live generation was just created empty or has an older schema."""

    # ---- lifecycle -----------------------------------------------------------------------
    async def open(self) -> None:
        """Take the writer lock of each live generation (creating a first empty generation
        where none exists); raises `WriterLocked` when another follower holds one."""
        for doc_type in DOC_TYPES:
            if doc_type not in self._live:
                self._live[doc_type] = await asyncio.to_thread(self._open_live, doc_type)

    prepare = open

    def _open_live(self, doc_type: DocType) -> _Live:
        store = self.stores[doc_type]
        opened = store.open_current(create=True)
        assert opened is not None
        name, index = opened
        fresh = store.is_incomplete(name)
        if fresh or store.is_outdated(index):
            # an empty first generation, or one built with an older schema: it serves (and
            # takes the queue) until a rebuild replaces it
            self.needs_rebuild.add(doc_type)
            log.warning("the %s index (%s) needs a rebuild (%s)", doc_type, name,
                        "new" if fresh else "older schema",
                        extra={"action": "tantivy_needs_rebuild", "entity": doc_type})
        path = store.path(name)
        return _Live(name, path, index, open_writer(index, path, self.config.writer_heap_mb))

    async def close(self) -> None:
        """Drop the writers (uncommitted work is discarded; the queue still holds it)."""
        async with self._lock:
            self._live.clear()

    async def __aenter__(self) -> TantivyFollower:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def document_counts(self) -> dict[DocType, int]:
        """Documents in each live generation, as of its last commit (blocking: call it in a
        thread)."""
        out: dict[DocType, int] = {}
        for doc_type, live in list(self._live.items()):
            live.index.reload()
            out[doc_type] = int(live.index.searcher().num_docs)
        return out

    def generation(self, doc_type: DocType) -> str | None:
        live = self._live.get(doc_type)
        return live.name if live else None

    # ---- the engine part of the skeleton -------------------------------------------------
    def key(self, entry: QueueEntry) -> DocType:
        return entry.doc_type

    def document(self, doc_type: DocType, row: Mapping[str, Any]) -> dict[str, Any]:
        return document_for(doc_type, row, self.config.currencies)

    async def target(self, key: DocType) -> tantivy.IndexWriter:
        return self._live[key].writer

    async def write(self, target: tantivy.IndexWriter, doc_type: DocType,
                    docs: Docs) -> Refused:
        added, deleted = await asyncio.to_thread(_write, target, docs)
        self.stats.docs_applied += added
        self.stats.deletes += deleted
        return {}

    async def load(self, target: tantivy.IndexWriter, doc_type: DocType,
                   docs: Docs) -> Refused:
        await asyncio.to_thread(_add, target, docs)
        return {}

    async def gather(self, window: Window[DocType], got: bool) -> bool:
        interval = self.config.commit_interval
        if got:
            return window.docs < self.config.commit_max_docs and window.age < interval
        since_commit = time.monotonic() - self._last_commit
        if not window.entries or since_commit >= interval or window.age >= interval:
            return False
        # committed very recently: gather more work for a little while
        await pause(interval - since_commit, self._wake)
        self._wake.clear()
        return True

    async def commit(self, window: Window[DocType]) -> None:
        await asyncio.to_thread(self._commit_writers, window.keys)
        self._last_commit = time.monotonic()
        self.stats.commits += 1
        await self._notify(window.keys)

    async def abort(self, window: Window[DocType]) -> None:
        try:
            await asyncio.to_thread(self._rollback, window.keys)
        except Exception:
            log.exception("tantivy rollback failed", extra={"action": "tantivy_rollback"})

    def _commit_writers(self, doc_types: set[DocType]) -> None:
        for doc_type in sorted(doc_types):
            self._live[doc_type].writer.commit()

    def _rollback(self, doc_types: set[DocType]) -> None:
        for doc_type in doc_types:
            live = self._live.get(doc_type)
            if live is not None:
                live.writer.rollback()

    async def _notify(self, doc_types: set[DocType]) -> None:
        """Tell readers (INCR the counter they poll, PUBLISH to wake them). Best effort:
        without it readers still see the commit through tantivy's own ~500 ms file poll."""
        try:
            pipe = self.redis.pipeline(transaction=False)
            for doc_type in sorted(doc_types):
                pipe.incr(commit_counter_key(self.stream_prefix, doc_type))
                pipe.publish(commit_channel(self.stream_prefix), doc_type)
            await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("could not announce the tantivy commit: %s", exc,
                        extra={"action": "tantivy_notify_failed"})

    # ---- rebuild -------------------------------------------------------------------------
    async def rebuild(self, doc_type: DocType, rows: AsyncIterable[Rows]) -> str:
        """Bulk-load a new generation from batches of index rows (read lazily, after this
        call starts), make it live atomically and return its name (the skeleton's
        handshake; `indexed_at` is not used: it is the writing transaction's start time, so
        a long transaction committing after a page was read can carry an older one)."""
        async with self._rebuild_of(doc_type):
            store = self.stores[doc_type]
            name, index = await asyncio.to_thread(store.create_generation)
            path = store.path(name)
            try:
                writer = await asyncio.to_thread(open_writer, index, path,
                                                 self.config.writer_heap_mb)
            except BaseException:
                await asyncio.to_thread(store.remove, name)
                raise
            live = _Live(name, path, index, writer)
            try:
                loaded = await self._load(writer, doc_type, rows)
                changed = await self._switch(doc_type, writer, doc_type,
                                             lambda: self._go_live(doc_type, live))
            except BaseException:
                if self.generation(doc_type) != name:
                    await asyncio.to_thread(_abandon, store, name, writer)
                raise
        self.needs_rebuild.discard(doc_type)
        log.info("rebuilt the %s index as %s: %d docs loaded, %d changed meanwhile",
                 doc_type, name, loaded, changed,
                 extra={"action": "tantivy_rebuild", "entity": doc_type})
        await self._notify({doc_type})
        await asyncio.to_thread(store.prune)
        return name

    async def _go_live(self, doc_type: DocType, live: _Live) -> None:
        """Commit the new generation, point CURRENT at it and make its writer the live one
        (dropping the old _Live releases the old generation's writer lock)."""
        def switch() -> None:
            live.writer.commit()
            self.stores[doc_type].switch(live.name)
            self._live[doc_type] = live

        going = asyncio.ensure_future(asyncio.to_thread(switch))
        try:
            await asyncio.shield(going)
        finally:
            # even when cancelled: CURRENT and the live writer must agree before the
            # follower may use the writer again
            await asyncio.wait([going])


def _write(writer: tantivy.IndexWriter, docs: Docs) -> tuple[int, int]:
    """Replace each doc (delete by id term, add the new version); None deletes it."""
    added = deleted = 0
    for doc_id, values in docs:
        writer.delete_documents_by_term("id", str(doc_id))
        if values is None:
            deleted += 1
        else:
            writer.add_document(tantivy.Document(**values))
            added += 1
    return added, deleted


def _add(writer: tantivy.IndexWriter, docs: Docs) -> None:
    for _, values in docs:
        if values is not None:
            writer.add_document(tantivy.Document(**values))


def _abandon(store: GenerationStore, name: str, writer: tantivy.IndexWriter) -> None:
    try:
        writer.rollback()
    finally:
        if store.current() != name:
            store.remove(name)
