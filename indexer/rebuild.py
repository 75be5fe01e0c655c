"""Full rebuild of one document type as a new generation table, swapped in when complete
(I/O: PostgreSQL; the rows built can feed an engine's own bulk load).

Why: an in-place reindex pays GIN and trigram index maintenance and a versioned upsert per
document (~7k rows/s per connection, see LIMITS.md). Here documents are built set-based
straight into an index-less copy of the table on several connections, its indexes are built
afterwards, and one short transaction swaps it in:

- searches keep reading the live table until the swap, and wait only for its renames
  (ACCESS EXCLUSIVE, milliseconds); one waiting then reads the new table (a prepared
  statement re-resolves the name);
- the consumer keeps writing the live table meanwhile. At the swap, under the lock, every
  live document whose version is newer than ours (or that we did not build) is copied over,
  and documents whose source is gone (or unpublished without drafts) are removed: versions
  decide as in the in-place write;
- engines follow through `engine_queue` rows written in the swap transaction: every document
  for the engines the caller does not load itself; for an engine fed the rows as they were
  built (`EngineLoader`), only those the reconciliation changed. That loader must make its
  result live only after `rebuild` returns (a Tantivy generation rebuild reads the documents
  changed meanwhile from the table, which is then the new one).

Only for a whole document type, one rebuild at a time (a session advisory lock; a second one
returns None and the caller reindexes in place), and only while the table has nothing a swap
would lose (triggers, foreign keys, views...): `refusal` names it, and the caller falls back.
A runner that dies leaves `<table>_rebuild` behind: `remove_leftovers` drops it as soon as
the job is found orphaned (indexer/jobs.py), and the next rebuild would drop it anyway.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg

from core_write.errors import Interrupted
from indexer import engine_queue
from indexer.documents import NO_JIT, build_statement, count_truncated, isolating, words_cte
from indexer.model import SPECS, DocType
from indexer.queries import QUERIES

log = logging.getLogger(__name__)

LOCK_KEY = 0x52424C44  # 'RBLD', with the doc type's lock class as the second key
INDEX_MEMORY = "256MB"  # per index-building session: GIN builds spill less

Rows = Sequence[Mapping[str, Any]]


class EngineLoader(Protocol):
    """An engine that bulk-loads the rebuilt documents itself (e.g. a new Tantivy
    generation): `load` gets the batches as they are built and must make its result live
    only after the batches end (they end after the swap)."""

    engine: str
    columns: Mapping[DocType, str]
    """The index columns its documents need, per doc type (a RETURNING list)."""

    async def load(self, doc_type: DocType, rows: AsyncIterator[Rows]) -> None: ...


def _sql(name: str, doc_type: DocType, **extra: str) -> str:
    spec = SPECS[doc_type]
    live = spec.table
    return QUERIES[name].format(live=live, new=f"{live}_rebuild", old=f"{live}_retired",
                                key=spec.key, source=spec.source, **extra)


@dataclass
class RebuildResult:
    built: int = 0
    reconciled: int = 0
    removed: int = 0
    index_seconds: float = 0.0
    swap_seconds: float = 0.0
    """How long writers waited for the swap."""
    closed_seconds: float = 0.0
    """How long searches waited for it (the renames; the commit's fsync comes on top)."""
    failed: dict[tuple[DocType, uuid.UUID], str] = field(default_factory=dict)
    """Documents that could not be built, with the error (the live one stays)."""


async def refusal(conn: asyncpg.Connection, doc_type: DocType) -> str | None:
    """Why the live table cannot be swapped (what it would lose), or None."""
    found = [r[0] for r in await conn.fetch(QUERIES["rebuild_refuses"], SPECS[doc_type].table)]
    return ", ".join(found) or None


class Rebuild:
    """One rebuild of `doc_type`: `build` pages of ids on any connections, then `finish`."""

    def __init__(self, pool: asyncpg.Pool, doc_type: DocType, index_drafts: bool,
                 engines: tuple[str, ...], loader: EngineLoader | None) -> None:
        self.pool, self.doc_type, self.index_drafts = pool, doc_type, index_drafts
        self.loader = loader if loader is not None and loader.engine in engines else None
        self.queued_engines = [e for e in engines if self.loader is None
                               or e != self.loader.engine]
        self.result = RebuildResult()
        # pages of ids built (ids only: the loader may fall far behind, memory stays small)
        self._pages: asyncio.Queue[list[uuid.UUID] | None] = asyncio.Queue()
        self._read_all = asyncio.Event()
        self._swapped = asyncio.Event()
        self._loading: asyncio.Task[None] | None = None
        self._insert = self._fetch = ""
        self._renames: list[tuple[str, str, bool]] = []  # (temporary, final, primary key)

    async def start(self, conn: asyncpg.Connection) -> None:
        """Create the empty generation table (the caller holds the rebuild lock)."""
        await conn.execute(_sql("rebuild_create", self.doc_type))
        columns = [r[0] for r in await conn.fetch(QUERIES["rebuild_columns"],
                                                  SPECS[self.doc_type].table)]
        built = ", ".join(c for c in columns if c not in ("version", "position", "indexed_at"))
        self._insert = (f"WITH built AS (\n{build_statement(self.doc_type)}\n),\n"
                        f"{words_cte(self.doc_type)},\n"
                        + _sql("rebuild_insert", self.doc_type, columns=built))
        if self.loader is not None:
            self._fetch = _sql("rebuild_rows", self.doc_type,
                               columns=self.loader.columns[self.doc_type])
            self._loading = asyncio.create_task(self.loader.load(self.doc_type, self._rows()))

    async def _rows(self) -> AsyncIterator[Rows]:
        """The loader's input: the rows of each page built, read from the new table at the
        loader's pace (the build never waits for it); it ends only after the swap."""
        while (ids := await self._pages.get()) is not None:
            yield await self.pool.fetch(self._fetch, ids)
        self._read_all.set()
        await self._swapped.wait()

    async def build(self, ids: list[uuid.UUID]) -> None:
        """Build the documents of `ids` into the new generation (the loader reads them later).
        A document PostgreSQL refuses is isolated and left out: the live table keeps its
        previous document, which the swap copies over."""
        await isolating(self.doc_type, ids, self._build, self.result.failed)
        if self._loading is not None and self._loading.done():
            self._loading.result()  # the loader failed: raise its error here

    async def _build(self, ids: list[uuid.UUID]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(NO_JIT)
            rows = await conn.fetch(self._insert, ids, self.index_drafts)
        count_truncated(self.doc_type, [r[0] for r in rows if r[1]])
        self.result.built += len(rows)
        if self._loading is not None and rows:
            self._pages.put_nowait([r[0] for r in rows])

    async def finish(self, stop: asyncio.Event | None = None) -> RebuildResult:
        """Index the new generation, reconcile it with the live table and swap it in; then
        let the loader finish. Once `stop` is set, until the swap starts, the index builds
        and the wait for the loader are cancelled and `Interrupted` is raised."""
        started = time.monotonic()
        await _unless(stop, self._create_indexes())
        # fresh statistics before it serves, or the planner takes it for an empty table
        await self.pool.execute(f"ANALYZE {SPECS[self.doc_type].table}_rebuild")
        self.result.index_seconds = time.monotonic() - started
        await _unless(stop, self._loader_read_all())
        if stop is not None and stop.is_set():
            raise Interrupted("stopped by a shutdown before the swap; queued again")
        live = SPECS[self.doc_type].table
        async with self.pool.acquire() as conn, conn.transaction():
            # writers wait while we reconcile and queue the engines; readers only for the
            # renames (no deadlock on the upgrade: the consumer never reads a live table
            # before writing it in one transaction)
            await conn.execute(f"LOCK TABLE {live} IN EXCLUSIVE MODE")
            locked = time.monotonic()
            await self._reconcile(conn)
            await conn.execute(f"LOCK TABLE {live} IN ACCESS EXCLUSIVE MODE")
            closed = time.monotonic()
            await conn.execute(_sql("rebuild_swap", self.doc_type))
            await self._rename_indexes(conn)
        self.result.swap_seconds = time.monotonic() - locked
        self.result.closed_seconds = time.monotonic() - closed
        if self._loading is not None and self.loader is not None:
            self._swapped.set()
            try:
                await self._loading
            except BaseException:
                # the new table is live but the engine's new generation is not: its follower
                # catches up from the queue (the dropped documents were queued in the swap)
                await asyncio.shield(engine_queue.enqueue_table(
                    self.pool, [self.loader.engine], self.doc_type, live, SPECS[self.doc_type].key,
                    datetime.now(UTC)))
                raise
        log.info("rebuilt %s as a new generation: %d built, %d reconciled, %d removed; "
                 "indexes and statistics %.1f s, swap %.2f s (reads blocked %.3f s)",
                 SPECS[self.doc_type].table, self.result.built,
                 self.result.reconciled, self.result.removed, self.result.index_seconds,
                 self.result.swap_seconds, self.result.closed_seconds,
                 extra={"action": "reindex_rebuild", "entity": self.doc_type})
        return self.result

    async def _loader_read_all(self) -> None:
        """Until the loader has read every page from the new table (which the swap renames);
        its failure is raised here."""
        if self._loading is None:
            return
        self._pages.put_nowait(None)
        reading = asyncio.ensure_future(self._read_all.wait())
        try:
            await asyncio.wait([reading, self._loading], return_when=asyncio.FIRST_COMPLETED)
        finally:
            reading.cancel()
        if self._loading.done():
            self._loading.result()
            raise RuntimeError(f"the {self.loader.engine if self.loader else ''} loader "
                               "stopped before reading every page")

    async def abandon(self) -> None:
        if self._loading is not None:
            self._loading.cancel()
            await asyncio.gather(self._loading, return_exceptions=True)
        await self.pool.execute(f"DROP TABLE IF EXISTS {SPECS[self.doc_type].table}_rebuild")

    async def _create_indexes(self) -> None:
        """The live table's indexes on the new one, under temporary names, on two
        connections (CREATE INDEX runs concurrently with another on the same table)."""
        live = SPECS[self.doc_type].table
        target = re.compile(rf" INDEX \S+ ON (\S+\.)?{live} USING ")
        queue: list[str] = []
        for row in await self.pool.fetch(QUERIES["rebuild_indexes"], live):
            if row["primary_key"]:  # the new table has had its own from the start
                self._renames.append((f"{live}_rebuild_pkey", row["name"], True))
                continue
            temporary = f"r_{row['name']}"[:63]
            self._renames.append((temporary, row["name"], False))
            queue.append(target.sub(rf" INDEX {temporary} ON \g<1>{live}_rebuild USING ",
                                    row["definition"], count=1))
        queue.sort(key=lambda s: "USING gin" not in s)  # the long GIN builds first

        async def worker() -> None:
            async with self.pool.acquire() as conn:
                await conn.execute(f"SET maintenance_work_mem = '{INDEX_MEMORY}'")
                try:
                    while queue:
                        await conn.execute(queue.pop(0))
                finally:
                    await conn.execute("RESET maintenance_work_mem")

        await asyncio.gather(worker(), worker())

    async def _rename_indexes(self, conn: asyncpg.Connection) -> None:
        """Give the indexes the live names (the old table and its indexes are gone)."""
        live = SPECS[self.doc_type].table
        for temporary, final, primary_key in self._renames:
            if primary_key:
                await conn.execute(f"ALTER TABLE {live} RENAME CONSTRAINT {temporary} "
                                   f"TO {final}")
            else:
                await conn.execute(f"ALTER INDEX {temporary} RENAME TO {final}")

    async def _reconcile(self, conn: asyncpg.Connection) -> None:
        now = datetime.now(UTC)
        newer = await conn.fetch(_sql("rebuild_newer", self.doc_type))
        copied = await conn.fetch(_sql("rebuild_copy", self.doc_type))
        gone = await conn.fetch(_sql("rebuild_gone", self.doc_type), self.index_drafts)
        self.result.reconciled = len(copied)
        self.result.removed = len(gone)
        if self.queued_engines:
            await engine_queue.enqueue_table(conn, self.queued_engines, self.doc_type,
                                             f"{SPECS[self.doc_type].table}_rebuild",
                                             SPECS[self.doc_type].key, now)
        # for every engine: what the reconciliation changed (a document deleted meanwhile is
        # in neither table any more) and the live documents the new generation drops
        dropped = await conn.fetch(_sql("rebuild_dropped", self.doc_type))
        changed = {r["id"]: r["tenant_id"] for r in [*newer, *copied, *gone, *dropped]}
        engines = [*self.queued_engines, *([self.loader.engine] if self.loader else [])]
        if engines and changed:
            await engine_queue.enqueue(conn, engines, self.doc_type, list(changed),
                                       list(changed.values()), now)


async def _unless(stop: asyncio.Event | None, work: Coroutine[Any, Any, None]) -> None:
    """Run `work`; cancel it and raise `Interrupted` if `stop` is set first."""
    if stop is None:
        return await work
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if task.cancelled():
        raise Interrupted("stopped by a shutdown before the swap; queued again")
    task.result()


async def with_rebuild_lock(
    pool: asyncpg.Pool, doc_type: DocType, lock_class: int,
    body: Callable[[asyncpg.Connection], Awaitable[None]],
) -> bool:
    """Run `body` holding the rebuild lock of `doc_type` on a dedicated connection; False
    (without running it) when another rebuild holds it."""
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", LOCK_KEY, lock_class):
            return False
        try:
            await body(conn)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1, $2)", LOCK_KEY, lock_class)
        return True


async def remove_leftovers(pool: asyncpg.Pool) -> list[str]:
    """Drop the generation tables no running rebuild holds (a dead runner's); their names."""
    dropped: list[str] = []
    for doc_type, spec in SPECS.items():

        async def drop(conn: asyncpg.Connection, table: str = f"{spec.table}_rebuild") -> None:
            if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
                await conn.execute(f"DROP TABLE {table}")
                dropped.append(table)

        await with_rebuild_lock(pool, doc_type, spec.lock_class, drop)
    return dropped
