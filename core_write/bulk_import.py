"""Bulk import: NDJSON lines, one product (with its options, variants, prices, stock,
categories and tags) or one content node each, written in set-based chunks as a resumable job
(I/O: PostgreSQL).

- A line is validated on its own (the services' input models, `ProductLine`/`NodeLine`, then
  the checks across its parts); a refused line is reported with its number, the field path
  and the reason, and the other lines go on.
- The lines of a chunk (`CHUNK_LINES`) are written in one transaction: products with one
  binary COPY per table (the new products, options, values, variants, prices, stock,
  category links: rows the importer encodes, `core_write.copy_binary`), an upsert for the
  products whose handle exists and a multi-row INSERT for their tag links, all inside a
  savepoint; when PostgreSQL refuses one line's data (a SKU another product uses), the chunk
  is halved until that line is alone, so a line is written whole or not at all and every
  other line is written. Where the role may, the per-row foreign key triggers are off for
  the products and parts (`session_replication_role = replica`), which was most of the
  import's database time: the parents outside the chunk are locked and checked per
  statement instead (`write_products`). Nodes go through the content services, one
  savepoint each. While a chunk is written the next one is read and validated.
- Handles (products) and kind + slug (nodes) are the idempotency keys: a line whose handle
  exists replaces that product's fields, options, variants (with prices and stock),
  categories and tags, so re-running a line never makes a duplicate.
- Categories, tags and stock locations are named, and created (at the root) when missing.
- Change capture is off, as in every unit of work (migration 0013 would record one
  `RowChanged` per table per 500 keys, ten events per chunk that all lead to the same
  products); instead each chunk writes one `ReindexRequested` naming up to 500 of its
  documents, which the indexer builds with one set-based statement. The per-row domain events
  (`ProductCreated`, `VariantCreated`, `PriceChanged`, ...) are not written for imported
  lines; events for created categories, tags and locations are.
- The job row (`import_jobs`, migration 0017) records the lines and bytes done, the
  SHA-256 of that prefix and the consistency token of the events written so far (a search's
  `min_token`) in the chunk's own transaction: after a kill, a run with the same
  import id (or, from the CLI, the same file) skips exactly the committed prefix, after
  checking its hash.

The line schema and reading lines are in `core_write.import_lines`, the names of a chunk
resolved to ids in `core_write.import_refs`, the rows of a chunk of products and their write
in `core_write.import_rows`, the job rows in `core_write.import_jobs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from core_write import events as ev
from core_write.db import translate_errors
from core_write.errors import (
    Conflict,
    ImportLineRefused,
    ModuleDisabled,
    NotFound,
    RustokError,
    TransientConflict,
    ValidationFailed,
)
from core_write.events import REINDEX_IDS_MAX
from core_write.ids import new_id
from core_write.import_jobs import IMPORT_LOCK
from core_write.import_lines import (
    LINE_MAX_BYTES,
    Line,
    NodeLine,
    ProductLine,
    RawLine,
    line_key,
    parse_line,
    skip_prefix,
    split_lines,
    tag_slug,
)
from core_write.import_refs import Refs, resolve
from core_write.import_rows import write_products
from core_write.queries import QUERIES
from core_write.services import content
from core_write.unit import RETRIES, Unit

log = logging.getLogger(__name__)

CHUNK_LINES = 500
"""Lines per transaction (and the most documents one `ReindexRequested` names)."""
ERRORS_KEPT = 10_000
"""Refused lines recorded per job (with field and reason); all are counted."""
ANALYZE_AFTER = 1000
"""Products an import writes before it first refreshes the planner's statistics of the tables
it writes (then each time it has written as many as the statistics last counted)."""
YIELD_EVERY = 8
"""Lines parsed between two turns of the event loop, in which the chunk in flight sends its
next statement or reads an answer (half a millisecond of parsing; a turn per line cost 2 us)."""
_EMPTY_SHA256 = hashlib.sha256().hexdigest()


# ---- the run -------------------------------------------------------------------------------
@dataclass(frozen=True)
class LineFailure:
    line: int
    field: str
    reason: str


GC_FIRST_THRESHOLD = 50_000
"""The cyclic garbage collector's first threshold while imports run (700 by default): parsing
allocates ~1,000 objects a line, none in cycles, and the collections they set off took over
half of parsing's time."""
_gc_relaxed: list[tuple[int, int, int]] = []
"""The thresholds to restore, one per import running (the first run's, then the current)."""


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Raise the collector's first threshold while an import runs (the last run to end puts
    back the thresholds the first found)."""
    thresholds = gc.get_threshold()
    _gc_relaxed.append(thresholds)
    gc.set_threshold(max(thresholds[0], GC_FIRST_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        first = _gc_relaxed[0]
        _gc_relaxed.pop()
        if not _gc_relaxed:
            gc.set_threshold(*first)


@dataclass
class _Chunk:
    lines: list[tuple[int, Line]] = field(default_factory=list)
    failures: list[LineFailure] = field(default_factory=list)
    keys: set[tuple[str, ...]] = field(default_factory=set)
    count: int = 0
    """Lines read into the chunk (blank and refused ones too)."""
    prefix: str = _EMPTY_SHA256
    """The SHA-256 of the input up to the chunk's last line."""
    end: int = 0
    last_line: int = 0


class Importer:
    """Runs one import job over a byte stream (the HTTP body, a file)."""

    def __init__(self, pool: asyncpg.Pool, job: dict[str, Any], *,
                 chunk_lines: int = CHUNK_LINES, max_bytes: int | None = None,
                 on_chunk: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.pool = pool
        self.job = job
        self.tenant_id: uuid.UUID = job["tenant_id"]
        self.chunk_lines = max(1, min(chunk_lines, REINDEX_IDS_MAX))
        self.max_bytes = max_bytes
        self.on_chunk = on_chunk
        self.errors_kept = 0
        self.replica = False
        self.planner_rows = 0
        """Products in the statistics PostgreSQL's planner has (`pg_class.reltuples`)."""
        self.since_analyze = 0
        self.analyzing: asyncio.Task[None] | None = None
        """Whether this role may set `session_replication_role` (see `write_products`)."""
        self.started = time.monotonic()
        self.lines_this_run = 0

    async def run(self, chunks: AsyncIterable[bytes], requested_by: str,
                  total_bytes: int | None = None) -> dict[str, Any]:
        """Import (or continue importing) the stream; returns the finished job row. A job
        another runner holds is a `Conflict`."""
        with _fewer_collections():
            return await self._locked_run(chunks, requested_by, total_bytes)

    async def _locked_run(self, chunks: AsyncIterable[bytes], requested_by: str,
                          total_bytes: int | None) -> dict[str, Any]:
        async with self.pool.acquire() as lock_conn:
            if not await lock_conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2::text))",
                                            IMPORT_LOCK, str(self.job["id"])):
                raise Conflict(f"import {self.job['id']} is running", field="id")
            try:
                return await self._run(chunks, requested_by, total_bytes)
            finally:
                with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    await lock_conn.execute("SELECT pg_advisory_unlock($1, hashtext($2::text))",
                                            IMPORT_LOCK, str(self.job["id"]))

    async def _run(self, chunks: AsyncIterable[bytes], requested_by: str,
                   total_bytes: int | None) -> dict[str, Any]:
        row = await self.pool.fetchrow(QUERIES["import_job_start"], self.job["id"], total_bytes,
                                       requested_by)
        assert row is not None
        self.job = dict(row)
        self.errors_kept = int(await self.pool.fetchval(
            "SELECT count(*) FROM import_errors WHERE import_id = $1", self.job["id"]))
        self.replica = await may_set_replica(self.pool)
        self.planner_rows = int(await self.pool.fetchval(QUERIES["import_planner_rows"]))
        hasher = hashlib.sha256()
        writing: asyncio.Task[None] | None = None

        async def flush(chunk: _Chunk) -> None:
            """Write `chunk` while the next one is read and parsed: one chunk in flight, so
            chunks commit in order and `lines_done` is always a committed prefix."""
            nonlocal writing
            if writing is not None:
                await writing
            writing = asyncio.create_task(self._flush(chunk))

        try:
            stream: AsyncIterable[bytes] = chunks
            if self.job["bytes_done"]:
                stream = skip_prefix(chunks, self.job["bytes_done"], self.job["prefix_sha256"],
                                     hasher)
            chunk = _Chunk()
            async for raw in split_lines(stream, hasher, first_line=self.job["lines_done"] + 1,
                                         offset=self.job["bytes_done"],
                                         max_bytes=self.max_bytes):
                line = self._parse(raw, chunk)
                if line is not None and line_key(line) in chunk.keys:
                    await flush(chunk)  # one write per entity and statement
                    chunk = _Chunk()
                chunk.count += 1
                chunk.end, chunk.last_line = raw.end, raw.number
                chunk.prefix = hasher.hexdigest()
                if line is not None:
                    chunk.lines.append((raw.number, line))
                    chunk.keys.add(line_key(line))
                if chunk.count >= self.chunk_lines:
                    await flush(chunk)
                    chunk = _Chunk()
                if raw.number % YIELD_EVERY == 0:  # let the chunk in flight go on
                    await asyncio.sleep(0)
            if chunk.count:
                await flush(chunk)
            if writing is not None:
                await writing
        except (RustokError, asyncpg.PostgresError, OSError) as exc:
            message = exc.message if isinstance(exc, RustokError) else f"{type(exc).__name__}"
            with contextlib.suppress(Exception):
                await self.pool.execute(QUERIES["import_job_finish"], self.job["id"], "failed",
                                        message, None)
            raise
        finally:
            if writing is not None and not writing.done():  # failed or cancelled meanwhile:
                writing.cancel()  # the chunk in flight rolls back; a resume writes it again
                with contextlib.suppress(BaseException):
                    await writing
            if self.analyzing is not None:
                with contextlib.suppress(BaseException):
                    await self.analyzing
        row = await self.pool.fetchrow(QUERIES["import_job_finish"], self.job["id"],
                                       "succeeded", None, hasher.hexdigest())
        assert row is not None
        self.job = dict(row)
        return self.job

    def _parse(self, raw: RawLine, chunk: _Chunk) -> Line | None:
        if raw.data is None:
            chunk.failures.append(LineFailure(raw.number, "",
                                              f"longer than {LINE_MAX_BYTES} bytes"))
            return None
        if not raw.data.strip():
            return None  # blank lines count, nothing else
        try:
            return parse_line(raw.data)
        except ImportLineRefused as exc:
            chunk.failures.append(LineFailure(raw.number, exc.field, exc.reason))
            return None

    async def _flush(self, chunk: _Chunk) -> None:
        """Commit a chunk with the job's progress (retrying a deadlock)."""
        prefix = chunk.prefix
        for attempt in range(1, RETRIES + 1):
            failures = list(chunk.failures)
            try:
                written = await self._write(chunk, failures, prefix)
                break
            except TransientConflict:
                if attempt == RETRIES:
                    raise
        self.lines_this_run += chunk.count
        self.job.update(lines_done=chunk.last_line, bytes_done=chunk.end, prefix_sha256=prefix)
        self.job["written"] = self.job.get("written", 0) + written
        self.job["failed"] = self.job.get("failed", 0) + len(failures)
        self.since_analyze += written
        if self.since_analyze >= max(ANALYZE_AFTER, self.planner_rows) and (
                self.analyzing is None or self.analyzing.done()):
            self.planner_rows += self.since_analyze
            self.since_analyze = 0
            self.analyzing = asyncio.create_task(self._analyze())
        if self.on_chunk is not None:
            self.on_chunk({**self.job, "chunk_failures": failures})

    async def _analyze(self) -> None:
        """Refresh the planner's statistics of the product tables, beside the writing: the
        indexer's document build joins them, and with the statistics of a table a tenth of
        its size (autovacuum analyzes after a minute at the earliest) PostgreSQL planned a
        scan of every option value per product: 3.4 ms of CPU a document instead of 0.16.
        A sample of 3,000 rows a table (`import_analyze_sample`) gives the build the same plan
        as the full 30,000 at a sixth of the CPU."""
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(QUERIES["import_analyze_sample"])
                await conn.execute(QUERIES["import_analyze"])
        except (asyncpg.PostgresError, OSError) as exc:  # statistics only: the import goes on
            log.warning("import: analyze failed: %s", exc, extra={"action": "import_analyze"})

    async def _write(self, chunk: _Chunk, failures: list[LineFailure], prefix: str) -> int:
        products = [(n, line) for n, line in chunk.lines if isinstance(line, ProductLine)]
        nodes = [(n, line) for n, line in chunk.lines if isinstance(line, NodeLine)]
        tenant = self.tenant_id
        with translate_errors():
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(QUERIES["capture_off"])
                unit = Unit(conn)
                await unit.require_tenant(tenant)
                product_ids: list[uuid.UUID] = []
                node_ids: list[uuid.UUID] = []
                if products:
                    products = await self._module_lines(unit, "commerce", products, failures)
                if nodes:
                    nodes = await self._module_lines(unit, "content", nodes, failures)
                if products or nodes:
                    refs = await resolve(unit, self.tenant_id, products, nodes)
                    if products:
                        product_ids = await self._products(conn, products, refs, failures)
                    for number, node in nodes:
                        node_id = await self._node(conn, node, refs, number, failures)
                        if node_id is not None:
                            node_ids.append(node_id)
                for target, ids in (("products", product_ids), ("content", node_ids)):
                    for start in range(0, len(ids), REINDEX_IDS_MAX):
                        unit.emit(tenant, ev.ReindexRequested(
                            request_id=new_id(), target_type=target,  # type: ignore[arg-type]
                            target_ids=ids[start:start + REINDEX_IDS_MAX]))
                await unit.flush()
                kept = failures[:max(0, ERRORS_KEPT - self.errors_kept)]
                if kept:
                    await conn.execute(QUERIES["import_errors_insert"], self.job["id"], tenant,
                                       [f.line for f in kept], [f.field for f in kept],
                                       [f.reason[:1000] for f in kept])
                elapsed = max(time.monotonic() - self.started, 1e-6)
                await conn.execute(QUERIES["import_job_progress"], self.job["id"],
                                   chunk.last_line, chunk.end, prefix,
                                   len(product_ids) + len(node_ids), len(failures),
                                   (self.lines_this_run + chunk.count) / elapsed, unit.token)
        self.errors_kept += len(kept)
        return len(product_ids) + len(node_ids)

    async def _module_lines(self, unit: Unit, module: str, lines: list[tuple[int, Any]],
                            failures: list[LineFailure]) -> list[tuple[int, Any]]:
        try:
            async with unit.conn.transaction():
                await unit.require_module(self.tenant_id, module)
        except ModuleDisabled:
            failures.extend(LineFailure(n, "type", f"the tenant's {module} module is disabled")
                            for n, _ in lines)
            return []
        return lines

    # ---- products ---------------------------------------------------------------------------
    async def _products(self, conn: asyncpg.Connection, lines: list[tuple[int, ProductLine]],
                        refs: Refs, failures: list[LineFailure]) -> list[uuid.UUID]:
        """Write `lines` in a savepoint; when PostgreSQL refuses one line's data, halve until
        that line is alone and report it. Returns the product ids written."""
        try:
            async with conn.transaction():
                with translate_errors():
                    return await write_products(conn, self.tenant_id, lines, refs,
                                                replica=self.replica)
        except (Conflict, ValidationFailed, NotFound) as exc:
            if len(lines) == 1:
                failures.append(LineFailure(lines[0][0], _field_of(exc), exc.message))
                return []
            half = len(lines) // 2
            return (await self._products(conn, lines[:half], refs, failures)
                    + await self._products(conn, lines[half:], refs, failures))

    # ---- nodes ------------------------------------------------------------------------------
    async def _node(self, conn: asyncpg.Connection, line: NodeLine, refs: Refs, number: int,
                    failures: list[LineFailure]) -> uuid.UUID | None:
        """A node through the content services in a savepoint. Their events stay in a unit
        that is never flushed: the chunk's `ReindexRequested` covers the node's document."""
        tenant = self.tenant_id
        data = line.model_dump(exclude={"type", "category", "tags", "status", "kind", "body",
                                        "parent_id"},
                               exclude_unset=True)
        if line.category:
            data["category_id"] = refs.content_categories[line.category]
        try:
            async with conn.transaction():
                with translate_errors():
                    scratch = Unit(conn)
                    existing = await conn.fetchval(QUERIES["import_node_find"], tenant,
                                                   line.kind, line.slug)
                    if existing is None:
                        row = await content.create_node(scratch, tenant, {
                            **data, "kind": line.kind, "status": line.status,
                            **({"body": line.body.model_dump()} if line.body else {})})
                        node_id = row["id"]
                    else:
                        node_id = existing
                        await content.update_node(scratch, tenant, node_id, data)
                        if line.body is not None:
                            await content.set_body(scratch, tenant, node_id, line.body)
                        if line.status == "published":
                            await content.publish_node(scratch, tenant, node_id)
                        else:
                            await content.unpublish_node(scratch, tenant, node_id, line.status)
                        await conn.execute(QUERIES["import_node_tags_clear"], tenant, node_id)
                    if line.tags:
                        await conn.execute(
                            QUERIES["import_taggables_insert"], tenant,
                            [refs.tags[tag_slug(t)]
                             for t in line.tags], "node", [node_id] * len(line.tags))
            return uuid.UUID(str(node_id))
        except (Conflict, ValidationFailed, NotFound) as exc:
            failures.append(LineFailure(number, _field_of(exc), exc.message))
            return None


async def may_set_replica(pool: asyncpg.Pool) -> bool:
    """Whether the pool's role may set `session_replication_role` (a superuser, or granted
    SET on it)."""
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                await conn.execute(QUERIES["import_replica_on"])
        except asyncpg.InsufficientPrivilegeError:
            return False
    return True


def _field_of(exc: RustokError) -> str:
    found = getattr(exc, "field", None)
    return str(found) if found else ""
