"""The Tantivy follower: the one writer of the live index generations, on the engine follower
skeleton (`indexer.follower`); it commits in small groups, tells readers, and rebuilds a
generation (I/O: PostgreSQL, Redis, the index directories).

Why it is built this way:
- Commit policy: commit when the queue is drained and the previous commit is at least
  `commit_interval_ms` old, when applied work has waited `commit_interval_ms`, or when
  `commit_max_docs` docs wait. An isolated change after a quiet spell is committed at once;
  a trickle is grouped, so there is never one commit per document under load.
- Bulk work (a bulk import, a storm): after a window of at least `commit_bulk_docs` docs, the
  next one gathers for `commit_bulk_interval_ms` (or up to `commit_max_docs`), through the
  gaps between the bursts the indexer writes. A commit costs tens of ms of CPU whatever its
  size (measured: 500 product docs per commit cost 2.7x the CPU per doc of one commit per
  10 000), so small windows under a backlog spend more on commits than on indexing. A
  trickle never reaches the threshold; the window after a bulk one that stays small ends
  bulk mode (a change arriving then waits at most `commit_bulk_interval_ms`).
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
from typing import Any, Protocol

import asyncpg
import redis.asyncio as aioredis
import tantivy
from redis.exceptions import RedisError

from core_write.backoff import pause
from indexer.engine_queue import QueueEntry
from indexer.follower import Docs, EngineFollower, Refused, Rows, Window
from indexer.model import DocType
from indexer.model.engines import tantivy_values
from indexer.tantivy.config import TantivyConfig, commit_channel, commit_counter_key
from indexer.tantivy.store import Generation, LiveGenerations

log = logging.getLogger(__name__)


class FollowerSettings(Protocol):
    @property
    def stream_prefix(self) -> str: ...

    @property
    def database_url(self) -> str: ...


class TantivyFollower(EngineFollower[DocType, Generation]):
    label = "tantivy"

    def __init__(
        self, pool: asyncpg.Pool, redis: aioredis.Redis, settings: FollowerSettings,
        config: TantivyConfig,
    ) -> None:
        super().__init__(pool, redis, settings.stream_prefix, batch=config.batch,
                         poll_interval=config.poll_interval, dsn=settings.database_url)
        self.engine = config.engine
        self.config = config
        self.stream_prefix = settings.stream_prefix
        self.live = LiveGenerations(config)
        self.stores = self.live.stores
        self.needs_rebuild = self.live.needs_rebuild
        self.generation = self.live.generation
        self.document_counts = self.live.document_counts
        """Documents per live generation (blocking: call it in a thread)."""
        self._currencies = frozenset(config.currencies)
        """The currencies with price fields, as a set (looked up per price of each doc)."""
        self._last_commit = 0.0
        self._bulk = False
        """The last window was bulk-sized: this one may gather longer."""

    async def open(self) -> None:
        """Take the writer lock of each live generation; raises `WriterLocked` when another
        follower holds one."""
        await asyncio.to_thread(self.live.open)

    prepare = open

    async def close(self) -> None:
        """Drop the writers (uncommitted work is discarded; the queue still holds it)."""
        async with self._lock:
            self.live.live.clear()

    # ---- the engine part of the skeleton -------------------------------------------------
    def key(self, entry: QueueEntry) -> DocType:
        return entry.doc_type

    def document(self, doc_type: DocType, row: Mapping[str, Any]) -> dict[str, Any]:
        return tantivy_values(doc_type, row, self._currencies)

    async def target(self, key: DocType) -> Generation:
        return self.live.live[key]

    async def write(self, target: Generation, doc_type: DocType, docs: Docs) -> Refused:
        added, deleted = await asyncio.to_thread(_write, target, docs)
        self.stats.docs_applied += added
        self.stats.deletes += deleted
        return {}

    async def load(self, target: Generation, doc_type: DocType, docs: Docs) -> Refused:
        await asyncio.to_thread(_add, target.writer, docs)
        return {}

    async def gather(self, window: Window[DocType], got: bool) -> bool:
        interval = self.config.commit_interval
        if self._bulk and window.entries:
            # bulk work arrives in bursts (a chunk of an import at a time): keep gathering
            # through the gaps between them, until the bulk interval or the size bound
            left = self.config.commit_bulk_interval - window.age
            if window.docs >= self.config.commit_max_docs or left <= 0:
                return False
            if not got:
                await pause(min(self.config.poll_interval, left), self._wake)
                self._wake.clear()
            return True
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
        await asyncio.to_thread(self.live.commit, window.keys)
        self._last_commit = time.monotonic()
        self._bulk = window.docs >= self.config.commit_bulk_docs
        self.stats.commits += 1
        await self._notify(window.keys)

    async def abort(self, window: Window[DocType]) -> None:
        try:
            await asyncio.to_thread(self.live.rollback, window.keys)
        except Exception:
            log.exception("tantivy rollback failed", extra={"action": "tantivy_rollback"})

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
            new = await asyncio.to_thread(self.live.create, doc_type)
            try:
                loaded = await self._load(new, doc_type, rows)
                changed = await self._switch(doc_type, new, doc_type,
                                             lambda: self._go_live(doc_type, new))
            except BaseException:
                await asyncio.to_thread(self.live.abandon, doc_type, new)
                raise
        log.info("rebuilt the %s index as %s: %d docs loaded, %d changed meanwhile",
                 doc_type, new.name, loaded, changed,
                 extra={"action": "tantivy_rebuild", "entity": doc_type})
        await self._notify({doc_type})
        await asyncio.to_thread(self.stores[doc_type].prune)
        return new.name

    async def _go_live(self, doc_type: DocType, new: Generation) -> None:
        going = asyncio.ensure_future(asyncio.to_thread(self.live.go_live, doc_type, new))
        try:
            await asyncio.shield(going)
        finally:
            # even when cancelled: CURRENT and the live writer must agree before the
            # follower may use the writer again
            await asyncio.wait([going])


def _write(target: Generation, docs: Docs) -> tuple[int, int]:
    """Replace each doc (delete the ids, add the new versions); None deletes it. The ids are
    distinct (the skeleton's), so one delete of them all before the adds is the same as a
    delete before each add, and costs tantivy next to nothing, where one delete term per doc
    cost about 15 us of CPU per doc (each delete operation is looked up in every segment at
    the commit). The query is built with the generation's own schema: a field's number may
    differ in an older one."""
    if not docs:
        return 0, 0
    ids = [str(doc_id) for doc_id, _ in docs]
    target.writer.delete_documents_by_query(
        tantivy.Query.term_set_query(target.index.schema, "id", ids))
    added = 0
    for _, values in docs:
        if values is not None:
            target.writer.add_document(tantivy.Document.from_dict(values))
            added += 1
    return added, len(docs) - added


def _add(writer: tantivy.IndexWriter, docs: Docs) -> None:
    # `from_dict(values)` is `Document(**values)` without copying the values into kwargs
    for _, values in docs:
        if values is not None:
            writer.add_document(tantivy.Document.from_dict(values))
