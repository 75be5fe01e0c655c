"""What every engine follower does, whatever the engine: drain `engine_queue` in seq order
into the engine, back off on errors, retry and dead-letter documents the engine refuses, and
rebuild an index while following the queue (I/O: PostgreSQL, Redis; the engine through the
subclass: `indexer.tantivy.follower`, `indexer.meili.follower`).

Why it is built this way:
- Documents are rebuilt from the current index row, never from the queue row (an absent row
  is a deleted document), so applying a change twice is harmless.
- A queue row is deleted only after the engine made its document durable (`commit`), and
  only if its seq is still the one read: a re-queue in between gets a new seq and survives.
- An index on a server that cannot be reached (`Deferred`, e.g. one Meilisearch instance
  down) keeps its queue rows for a later drain while the other indexes are written.
- A document the engine refuses is retried on the following drains with backoff and, after
  `max_attempts`, parked in `{prefix}:engine-dlq` with the engine's error, so one bad
  document never blocks the queue. A row that cannot be mapped is logged and skipped
  (verify reports the drift).
- The rebuild handshake: the new index is loaded from the index table while the live one
  keeps following the queue and the ids applied meanwhile are recorded. Then, with the
  follower paused, those documents are rebuilt from their current rows into the new index
  and it goes live; what is still queued is applied to it afterwards. Every change to an
  index row queues its document in the same transaction, so the queue is the complete
  change log and nothing changed during the load is missed.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Self, TypeVar

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core_write.backoff import Backoff, pause
from core_write.db import listen
from core_write.errors import Deferred as Deferred  # raised by `target` and `write`
from core_write.errors import RebuildRunning as RebuildRunning  # raised by the handshake
from core_write.errors import ValidationFailed
from indexer import engine_queue, index_rows, metrics
from indexer.engine_queue import QueueEntry
from indexer.model import DocType

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
"""One index of the engine (a doc type for Tantivy, a tenant and doc type for Meilisearch)."""
T = TypeVar("T")
"""What documents are written to: the live index or the one a rebuild fills."""
DocId = uuid.UUID | str
Docs = list[tuple[DocId, dict[str, Any] | None]]
"""(id, document or None for a deleted one)."""
Refused = dict[DocId, str]
"""Documents the engine refused, with its error."""
Rows = Sequence[Mapping[str, Any]]


@dataclass
class FollowerStats:
    """Counters for tests and logs (monotonic unless named `last_`)."""

    commits: int = 0
    docs_applied: int = 0   # documents (re)written
    deletes: int = 0        # documents removed because their index row is gone
    failed_docs: int = 0    # rows that could not be mapped to a document (logged, skipped)
    dead_lettered: int = 0
    errors: int = 0         # failed drains (retried with backoff)
    rebuilds: int = 0
    last_lag_seconds: float = 0.0


@dataclass
class Window(Generic[K]):
    """Queue rows read in one drain: applied to the engine, not yet committed."""

    started: float = field(default_factory=time.monotonic)
    entries: list[QueueEntry] = field(default_factory=list)
    done: list[QueueEntry] = field(default_factory=list)
    """Applied (or dead-lettered): deleted from the queue after the commit."""
    max_seq: int = 0
    docs: int = 0
    keys: set[K] = field(default_factory=set)
    deferred: int = 0
    """Rows left queued because their index could not be written (`Deferred`)."""

    @property
    def age(self) -> float:
        return time.monotonic() - self.started


class EngineFollower(ABC, Generic[K, T]):
    """The skeleton; a subclass says how entries map to indexes and how documents are
    mapped, written and committed."""

    engine: str
    """The `engine_queue.engine` value it drains."""
    label: str
    """Prefix of its log actions."""

    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis, stream_prefix: str, *,
                 batch: int, poll_interval: float, max_attempts: int | None = None,
                 dsn: str | None = None) -> None:
        self.pool = pool
        self.redis = redis
        self.batch = batch
        self.poll_interval = poll_interval
        """Between looks at an idle queue; with `dsn`, a NOTIFY of new changes wakes `run`
        at once, so this only bounds the wait for changes queued while nobody listened."""
        self.dsn = dsn
        self.max_attempts = max_attempts
        self.dlq = f"{stream_prefix}:engine-dlq"
        self.stats = FollowerStats()
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._touched: dict[K, set[uuid.UUID]] = {}
        self._rebuilding: set[K] = set()
        self._attempts: dict[uuid.UUID, int] = {}
        self._failing = False

    # ---- the per-engine part ------------------------------------------------------------
    @abstractmethod
    def key(self, entry: QueueEntry) -> K:
        """The index a queue row goes to."""

    @abstractmethod
    def document(self, doc_type: DocType, row: Mapping[str, Any]) -> dict[str, Any]:
        """The engine's document for an index row (raises on a malformed row)."""

    @abstractmethod
    async def target(self, key: K) -> T:
        """The live index of `key` to write to."""

    @abstractmethod
    async def write(self, target: T, doc_type: DocType, docs: Docs) -> Refused:
        """Replace (or delete) `docs` in `target`."""

    @abstractmethod
    async def load(self, target: T, doc_type: DocType, docs: Docs) -> Refused:
        """Add new documents to an index being rebuilt."""

    async def prepare(self) -> None:
        """Before each drain and each rebuild's switch (e.g. reopen what was closed)."""

    async def close(self) -> None:
        """Let go of the engine's handles (what was not committed stays queued)."""

    async def gather(self, window: Window[K], got: bool) -> bool:
        """After a read (`got`: it found rows): read again before committing?"""
        return False

    async def commit(self, window: Window[K]) -> None:
        """Make what the window wrote durable (writes that wait for the engine need not)."""

    async def abort(self, window: Window[K]) -> None:
        """Drop what the window wrote after a failure."""

    async def __aenter__(self) -> Self:
        await self.prepare()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- the loop -----------------------------------------------------------------------
    def wake(self) -> None:
        """Look at the queue now instead of at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Drain the queue until `stop`; errors and refused documents back off. With a
        `dsn`, a LISTEN connection wakes the loop when changes are queued."""
        listener = None if self.dsn is None else asyncio.create_task(
            listen(self.dsn, engine_queue.CHANNEL, self._wake, stop, self.poll_interval,
                   f"{self.label}_listen"), name=f"{self.label}-listen")
        try:
            await self._run(stop)
        finally:
            if listener is not None:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)

    async def _run(self, stop: asyncio.Event) -> None:
        await self.prepare()
        backoff = Backoff()
        log.info("%s follower started", self.engine,
                 extra={"action": f"{self.label}_follower_start"})
        while not stop.is_set():
            try:
                applied = await self.drain_once()
            except Exception as exc:
                self.stats.errors += 1
                log.warning("%s drain failed (%s); retrying in %.1fs", self.engine, exc,
                            backoff.delay, exc_info=exc,
                            extra={"action": f"{self.label}_drain_error"})
                await backoff.wait(stop)
                continue
            if self._failing:
                await backoff.wait(stop)
            else:
                backoff.reset()
                if applied == 0 and await pause(self.poll_interval, stop, self._wake):
                    self._wake.clear()
        log.info("%s follower stopped", self.engine,
                 extra={"action": f"{self.label}_follower_stop"})

    async def drain_once(self) -> int:
        """Apply what the queue holds in one window; returns the queue rows done."""
        async with self._lock:
            await self.prepare()
            window: Window[K] = Window()
            self._failing = False
            try:
                while True:
                    entries = await engine_queue.read(self.pool, self.engine, window.max_seq,
                                                      self.batch)
                    if entries:
                        await self._apply(entries, window)
                    if not await self.gather(window, bool(entries)):
                        break
                if not window.entries:
                    return 0
                await self.commit(window)
            except BaseException:
                await self.abort(window)
                raise
            await engine_queue.delete_applied(self.pool, self.engine, window.done)
            if window.done:
                oldest = min(entry.event_time for entry in window.done)
                self.stats.last_lag_seconds = max(0.0, time.time() - oldest.timestamp())
                metrics.LAG_SECONDS.labels(backend=self.engine).observe(
                    self.stats.last_lag_seconds)
            return len(window.done)

    async def _apply(self, entries: list[QueueEntry], window: Window[K]) -> None:
        window.entries.extend(entries)
        window.max_seq = max(window.max_seq, entries[-1].seq)
        groups: dict[K, list[QueueEntry]] = {}
        for entry in entries:
            groups.setdefault(self.key(entry), []).append(entry)
        for key, group in groups.items():
            doc_type = group[0].doc_type
            ids = list(dict.fromkeys(entry.doc_id for entry in group))
            recording = self._touched.get(key)
            if recording is not None:
                recording.update(ids)
            try:
                target = await self.target(key)
                docs = await self._documents(doc_type, ids)
                refused = await self.write(target, doc_type, docs)
            except Deferred:
                window.deferred += len(group)
                continue
            window.docs += len(docs)
            window.keys.add(key)
            for entry in group:
                if entry.doc_id not in refused or await self._give_up(entry, refused):
                    window.done.append(entry)

    async def _give_up(self, entry: QueueEntry, refused: Refused) -> bool:
        """Count a refusal of `entry`'s document; True when it was dead-lettered."""
        attempts = self._attempts.get(entry.doc_id, 0) + 1
        if self.max_attempts is None or attempts < self.max_attempts:
            self._attempts[entry.doc_id] = attempts
            self._failing = True
            return False
        self._attempts.pop(entry.doc_id, None)
        error = refused[entry.doc_id]
        self.stats.dead_lettered += 1
        metrics.MEILI_DEAD_LETTERS.inc()
        log.error("giving up on %s %s after %d failed %s writes: %s", entry.doc_type,
                  entry.doc_id, attempts, self.engine, error,
                  extra={"action": f"{self.label}_dead_letter", "entity": entry.doc_type,
                         "tenant": str(entry.tenant_id)})
        try:
            await self.redis.xadd(self.dlq, {
                "engine": self.engine, "doc_type": entry.doc_type, "doc_id": str(entry.doc_id),
                "tenant_id": str(entry.tenant_id), "seq": str(entry.seq),
                "error": error[:2000]})
        except (RedisError, OSError) as exc:
            log.warning("could not record the dead letter: %s", exc)
        return True

    async def _documents(self, doc_type: DocType, ids: Sequence[uuid.UUID]) -> Docs:
        """The current document of each id (None: deleted), from one query."""
        rows = await index_rows.fetch_rows(self.pool, doc_type, ids)
        docs: Docs = []
        for doc_id in ids:
            row = rows.get(doc_id)
            if row is None:
                docs.append((doc_id, None))
            elif (doc := self._map(doc_type, row)) is not None:
                docs.append((doc_id, doc))
        return docs

    def _map(self, doc_type: DocType, row: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            return self.document(doc_type, row)
        except (ValidationFailed, KeyError, TypeError, ValueError) as exc:
            self.stats.failed_docs += 1
            log.error("cannot build the %s document: %s", doc_type, exc,
                      extra={"action": f"{self.label}_bad_row", "entity": doc_type,
                             "tenant": str(row.get("tenant_id"))})
            return None

    # ---- the rebuild handshake ----------------------------------------------------------
    def rebuilding(self, key: K | None = None) -> bool:
        """Is a rebuild of `key` (any, without one) running?"""
        return bool(self._rebuilding) if key is None else key in self._rebuilding

    @asynccontextmanager
    async def _rebuild_of(self, key: K) -> AsyncIterator[None]:
        """While a rebuild of `key` runs: the ids applied to its live index are recorded."""
        if key in self._rebuilding:
            raise RebuildRunning(f"a rebuild of {self.engine} index {key} is already running",
                                 index=str(key))
        self._rebuilding.add(key)
        self._touched[key] = set()
        try:
            yield
        finally:
            self._touched.pop(key, None)
            self._rebuilding.discard(key)

    async def load_pages(self, target: T, doc_type: DocType, pages: AsyncIterable[Docs]
                         ) -> AsyncIterator[tuple[Docs, Refused]]:
        """Load pages of documents into a rebuild's `target`, yielding each page with the
        documents refused. Here each page in turn; an engine may keep several in flight."""
        async for docs in pages:
            yield docs, await self.load(target, doc_type, docs)

    async def _mapped(self, doc_type: DocType, pages: AsyncIterable[Rows]
                      ) -> AsyncIterator[Docs]:
        async for rows in pages:
            yield [(doc["id"], doc) for row in rows
                   if (doc := self._map(doc_type, row)) is not None]

    async def _load(self, target: T, doc_type: DocType, pages: AsyncIterable[Rows]) -> int:
        """Load every page of index rows into `target`; returns the documents loaded."""
        loaded = 0
        async for docs, refused in self.load_pages(target, doc_type,
                                                   self._mapped(doc_type, pages)):
            for doc_id, error in refused.items():
                log.error("rebuild of %s %s: document %s refused: %s", self.engine, doc_type,
                          doc_id, error, extra={"action": f"{self.label}_rebuild_refused"})
            loaded += len(docs) - len(refused)
        return loaded

    async def _switch(self, key: K, target: T, doc_type: DocType,
                      go_live: Callable[[], Awaitable[None]]) -> int:
        """With the follower paused: rewrite into `target` the documents applied to the live
        index since the rebuild started, then make `target` live. Returns how many."""
        return await self._switch_all([(key, target, doc_type)], go_live)

    async def _switch_all(self, parts: Sequence[tuple[K, T, DocType]],
                          go_live: Callable[[], Awaitable[None]]) -> int:
        """`_switch` for several indexes rebuilt together (made live by one `go_live`)."""
        changed = 0
        async with self._lock:
            await self.prepare()
            for key, target, doc_type in parts:
                touched = sorted(self._touched.pop(key))
                for start in range(0, len(touched), self.batch):
                    page = touched[start:start + self.batch]
                    await self.write(target, doc_type, await self._documents(doc_type, page))
                changed += len(touched)
            await go_live()
        self.stats.rebuilds += 1
        return changed
