"""The Tantivy follower: the one writer that applies `engine_queue` rows to the live index
generations, commits in small groups and tells readers; plus generation rebuilds (I/O:
PostgreSQL, Redis, the index directories).

Why it is built this way:
- Docs are rebuilt from the current index row, never from the queue row: a queue row only
  says "look at this doc again". An absent row means the doc is deleted.
- A queue row is deleted only after the commit that made its doc durable, and only if its seq
  is still the one read: a re-queue in between gets a new seq and survives. A crash between
  commit and delete re-applies the doc (delete + add is idempotent).
- Commit policy: commit when the queue is drained and the previous commit is at least
  `commit_interval_ms` old, when applied work has waited `commit_interval_ms`, or when
  `commit_max_docs` docs wait. An isolated change after a quiet spell is committed at once;
  a trickle is grouped, so there is never one commit per document under load.
- Within one commit window the queue is read with `seq > highest seq read`; every window
  starts again from the lowest seq, so a row that commits late with a lower seq (sequences are
  handed out at insert, not commit) is picked up by the next window, never skipped.
- All tantivy calls run in `asyncio.to_thread`; one asyncio lock serializes windows with the
  final step of a rebuild.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import redis.asyncio as aioredis
import tantivy
from redis.exceptions import RedisError

from core_write.errors import ValidationFailed
from indexer.tantivy import gateway
from indexer.tantivy.config import (
    DOC_TYPES,
    DocType,
    TantivyConfig,
    commit_channel,
    commit_counter_key,
)
from indexer.tantivy.errors import RebuildRunning
from indexer.tantivy.gateway import QueueEntry
from indexer.tantivy.schema import document_for
from indexer.tantivy.stats import CommitReport, TantivyStats
from indexer.tantivy.store import GenerationStore, open_writer

log = logging.getLogger(__name__)

_MAX_BACKOFF = 5.0


class FollowerSettings(Protocol):
    @property
    def stream_prefix(self) -> str: ...


@dataclass
class _Live:
    name: str
    path: Path
    index: tantivy.Index
    writer: tantivy.IndexWriter


@dataclass
class _Window:
    """Work applied to the writers but not yet committed."""

    started: float = field(default_factory=time.monotonic)
    entries: list[QueueEntry] = field(default_factory=list)
    max_seq: int = 0
    docs: int = 0
    added: int = 0
    deleted: int = 0
    doc_types: set[DocType] = field(default_factory=set)

    @property
    def age(self) -> float:
        return time.monotonic() - self.started


class TantivyFollower:
    def __init__(
        self, pool: asyncpg.Pool, redis: aioredis.Redis, settings: FollowerSettings,
        config: TantivyConfig,
    ) -> None:
        self.pool = pool
        self.redis = redis
        self.config = config
        self.stream_prefix = settings.stream_prefix
        self.stores = {dt: GenerationStore(config.index_dir, dt, config.currencies)
                       for dt in DOC_TYPES}
        self.stats = TantivyStats()
        self._live: dict[DocType, _Live] = {}
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._touched: dict[DocType, set[uuid.UUID]] = {}
        self._rebuilding: set[DocType] = set()
        self._last_commit = 0.0
        self.needs_rebuild: set[DocType] = set()
        """Doc types whose live generation was just created empty or has an older schema."""
        self.on_commit: Callable[[CommitReport], None] | None = None
        """Called after every commit (for metrics)."""

    # ---- lifecycle -----------------------------------------------------------------------
    async def open(self) -> None:
        """Take the writer lock of each live generation (creating a first empty generation
        where none exists); raises `WriterLocked` when another follower holds one."""
        for doc_type in DOC_TYPES:
            if doc_type not in self._live:
                self._live[doc_type] = await asyncio.to_thread(self._open_live, doc_type)

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

    def wake(self) -> None:
        """Look at the queue now instead of at the next poll (for an in-process producer)."""
        self._wake.set()

    def rebuilding(self, doc_type: DocType | None = None) -> bool:
        """Is a generation rebuild of `doc_type` (any, without a type) running?"""
        return bool(self._rebuilding) if doc_type is None else doc_type in self._rebuilding

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

    # ---- the loop ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Drain the queue until `stop` is set; the window in hand is finished first."""
        await self.open()
        backoff = 0.1
        log.info("tantivy follower started", extra={"action": "tantivy_follower_start"})
        while not stop.is_set():
            try:
                applied = await self.drain_once()
                backoff = 0.1
            except Exception:
                self.stats.errors += 1
                log.exception("tantivy drain failed; retrying in %.1fs", backoff,
                              extra={"action": "tantivy_drain_error"})
                await self._wait(backoff, stop)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                continue
            if applied == 0:
                await self._wait(self.config.poll_interval, stop)
        log.info("tantivy follower stopped", extra={"action": "tantivy_follower_stop"})

    async def _wait(self, timeout: float, stop: asyncio.Event | None = None) -> None:
        """Until `wake()`, `stop` (checked at least every poll interval) or the timeout."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            if stop is not None and stop.is_set():
                return
            try:
                await asyncio.wait_for(
                    self._wake.wait(), min(remaining, self.config.poll_interval)
                )
            except TimeoutError:
                continue
            self._wake.clear()
            return

    async def drain_once(self) -> int:
        """Apply what the queue holds in one commit window; returns the queue rows committed."""
        async with self._lock:
            await self.open()
            window = _Window()
            try:
                while True:
                    entries = await gateway.read_queue(
                        self.pool, self.config.engine, window.max_seq, self.config.batch
                    )
                    if entries:
                        await self._apply(entries, window)
                        if (window.docs >= self.config.commit_max_docs
                                or window.age >= self.config.commit_interval):
                            break
                        continue
                    if not window.entries:
                        return 0
                    since_commit = time.monotonic() - self._last_commit
                    if (since_commit >= self.config.commit_interval
                            or window.age >= self.config.commit_interval):
                        break
                    # committed very recently: gather more work for a little while
                    await self._wait(self.config.commit_interval - since_commit)
                await self._commit(window)
            except BaseException:
                try:
                    await asyncio.to_thread(self._rollback, window.doc_types)
                except Exception:
                    log.exception("tantivy rollback failed",
                                  extra={"action": "tantivy_rollback"})
                raise
            return len(window.entries)

    async def _apply(self, entries: list[QueueEntry], window: _Window) -> None:
        window.entries.extend(entries)
        window.max_seq = max(window.max_seq, entries[-1].seq)
        by_type: dict[DocType, list[uuid.UUID]] = {}
        for entry in entries:
            by_type.setdefault(entry.doc_type, []).append(entry.doc_id)
        for doc_type, ids in by_type.items():
            unique = list(dict.fromkeys(ids))
            docs = await self._documents(doc_type, unique)
            recording = self._touched.get(doc_type)
            if recording is not None:
                recording.update(unique)
            added, deleted = await asyncio.to_thread(
                _write, self._live[doc_type].writer, docs
            )
            window.docs += len(docs)
            window.added += added
            window.deleted += deleted
            window.doc_types.add(doc_type)

    async def _documents(
        self, doc_type: DocType, ids: Sequence[uuid.UUID]
    ) -> list[tuple[str, dict[str, Any] | None]]:
        """(id, field values or None for a deleted doc) for each id, from one query."""
        rows = await gateway.fetch_rows(self.pool, doc_type, ids)
        docs: list[tuple[str, dict[str, Any] | None]] = []
        for doc_id in ids:
            row = rows.get(doc_id)
            if row is None:
                docs.append((str(doc_id), None))
                continue
            mapped = self._map(doc_type, row)
            if mapped is not None:
                docs.append((str(doc_id), mapped))
        return docs

    def _map(self, doc_type: DocType, row: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            return document_for(doc_type, row, self.config.currencies)
        except (ValidationFailed, KeyError, TypeError, ValueError) as exc:
            # a malformed row must not block the queue: it is logged, counted and left as is
            # (verify/repair report the drift)
            self.stats.failed_docs += 1
            log.error("cannot build the %s document: %s", doc_type, exc,
                      extra={"action": "tantivy_bad_row", "entity": doc_type,
                             "tenant": str(row.get("tenant_id"))})
            return None

    async def _commit(self, window: _Window) -> None:
        started = time.monotonic()
        await asyncio.to_thread(self._commit_writers, window.doc_types)
        self._last_commit = time.monotonic()
        oldest = min(entry.event_time for entry in window.entries)
        report = CommitReport(
            frozenset(window.doc_types), window.added, window.deleted, len(window.entries),
            max(0.0, time.time() - oldest.timestamp()), self._last_commit - started,
        )
        self.stats.commits += 1
        self.stats.docs_applied += report.added
        self.stats.deletes += report.deleted
        self.stats.last_lag_seconds = report.lag_seconds
        self.stats.last_commit_seconds = report.commit_seconds
        await self._notify(window.doc_types)
        self.stats.queue_rows_done += await gateway.delete_applied(
            self.pool, self.config.engine, window.entries
        )
        if self.on_commit is not None:
            self.on_commit(report)

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
    async def rebuild(
        self, doc_type: DocType, rows: AsyncIterable[Sequence[Mapping[str, Any]]]
    ) -> str:
        """Bulk-load a new generation from batches of index rows (read lazily, after this
        call starts), make it live atomically and return its name.

        The follower keeps applying the queue to the live generation meanwhile and records
        which docs it applied. Before the switch, with the follower paused, those docs are
        rebuilt from their current rows into the new generation; what is still queued is
        applied to the new generation after the switch. Every change to an index row queues
        its doc in the same transaction, so the queue is the complete change log: a change
        the pages missed was either applied (and recorded) or is still queued. (`indexed_at`
        is not used: it is the writing transaction's start time, so a long transaction
        committing after a page was read can carry an older `indexed_at`.)
        """
        if doc_type in self._rebuilding:
            raise RebuildRunning(doc_type)
        self._rebuilding.add(doc_type)
        self._touched[doc_type] = set()
        try:
            return await self._rebuild(doc_type, rows)
        finally:
            self._touched.pop(doc_type, None)
            self._rebuilding.discard(doc_type)

    async def _rebuild(
        self, doc_type: DocType, rows: AsyncIterable[Sequence[Mapping[str, Any]]]
    ) -> str:
        store = self.stores[doc_type]
        name, index = await asyncio.to_thread(store.create_generation)
        path = store.path(name)
        try:
            writer = await asyncio.to_thread(open_writer, index, path,
                                             self.config.writer_heap_mb)
        except BaseException:
            await asyncio.to_thread(store.remove, name)
            raise
        try:
            loaded = 0
            async for batch in rows:
                docs = [(str(doc["id"]), doc) for doc in
                        (self._map(doc_type, row) for row in batch) if doc is not None]
                await asyncio.to_thread(_add, writer, docs)
                loaded += len(docs)
            async with self._lock:
                await self.open()
                touched = sorted(self._touched.pop(doc_type))
                for start in range(0, len(touched), self.config.batch):
                    changed = await self._documents(
                        doc_type, touched[start:start + self.config.batch]
                    )
                    await asyncio.to_thread(_write, writer, changed)
                going = asyncio.ensure_future(asyncio.to_thread(
                    self._go_live, doc_type, _Live(name, path, index, writer)))
                try:
                    await asyncio.shield(going)
                finally:
                    # even when cancelled: CURRENT and the live writer must agree before the
                    # follower may use the writer again
                    await asyncio.wait([going])
        except BaseException:
            if self.generation(doc_type) != name:
                await asyncio.to_thread(_abandon, store, name, writer)
            raise
        self.needs_rebuild.discard(doc_type)
        self.stats.rebuilds += 1
        log.info("rebuilt the %s index as %s: %d docs loaded, %d changed meanwhile",
                 doc_type, name, loaded, len(touched),
                 extra={"action": "tantivy_rebuild", "entity": doc_type})
        await self._notify({doc_type})
        await asyncio.to_thread(store.prune)
        return name

    def _go_live(self, doc_type: DocType, live: _Live) -> None:
        """Commit the new generation, point CURRENT at it and make its writer the live one
        (dropping the old _Live releases the old generation's writer lock)."""
        live.writer.commit()
        self.stores[doc_type].switch(live.name)
        self._live[doc_type] = live


def _write(writer: tantivy.IndexWriter, docs: Sequence[tuple[str, dict[str, Any] | None]]
           ) -> tuple[int, int]:
    """Replace each doc (delete by id term, add the new version); None deletes it."""
    added = deleted = 0
    for doc_id, values in docs:
        writer.delete_documents_by_term("id", doc_id)
        if values is None:
            deleted += 1
        else:
            writer.add_document(tantivy.Document(**values))
            added += 1
    return added, deleted


def _add(writer: tantivy.IndexWriter, docs: Sequence[tuple[str, dict[str, Any]]]) -> None:
    for _, values in docs:
        writer.add_document(tantivy.Document(**values))


def _abandon(store: GenerationStore, name: str, writer: tantivy.IndexWriter) -> None:
    try:
        writer.rollback()
    finally:
        if store.current() != name:
            store.remove(name)
