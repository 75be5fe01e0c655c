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
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from core_write import copy_binary
from core_write import events as ev
from core_write.db import translate_errors
from core_write.errors import (
    Conflict,
    ImportLineRefused,
    ImportTooLarge,
    ModuleDisabled,
    NotFound,
    RustokError,
    TransientConflict,
    ValidationFailed,
)
from core_write.events import REINDEX_IDS_MAX
from core_write.ids import new_id, new_ids, new_raw_ids
from core_write.queries import QUERIES
from core_write.services import content
from core_write.services.catalog import OptionCreate, PriceSet, ProductCreate, VariantCreate
from core_write.services.taxonomy import TagCreate
from core_write.unit import RETRIES, Unit
from core_write.validate import (
    INT_MAX,
    NAME_MAX,
    TAG_SLUG_MAX,
    Slug,
    Text,
    check_input,
    parse_input,
    slugify,
)

log = logging.getLogger(__name__)

CHUNK_LINES = 500
"""Lines per transaction (and the most documents one `ReindexRequested` names)."""
LINE_MAX_BYTES = 1024 * 1024
"""Bytes of one line: a node's longest body (256 KiB) and excerpt (64 KiB), escaped, fit."""
ERRORS_KEPT = 10_000
"""Refused lines recorded per job (with field and reason); all are counted."""
DEFAULT_LOCATION = "Default"
"""The stock location a bare `stock` number goes to (created when missing)."""
ANALYZE_AFTER = 1000
"""Products an import writes before it first refreshes the planner's statistics of the tables
it writes (then each time it has written as many as the statistics last counted)."""
YIELD_EVERY = 8
"""Lines parsed between two turns of the event loop, in which the chunk in flight sends its
next statement or reads an answer (half a millisecond of parsing; a turn per line cost 2 us)."""
IMPORT_LOCK = 0x494D5054  # 'IMPT', with the hash of the import id as the second key
_EMPTY_SHA256 = hashlib.sha256().hexdigest()
Quantity = Annotated[int, Field(ge=0, le=INT_MAX)]
"""A stocked quantity (as `StockLevelSet.stocked_quantity`: an `integer` column, not below 0)."""


# ---- the line schema ------------------------------------------------------------------------
def _price_map(value: Any) -> Any:
    """`{"EUR": 1999}` is short for `[{"currency_code": "EUR", "amount": 1999}]`."""
    if isinstance(value, dict):
        return [{"currency_code": code, "amount": amount} for code, amount in value.items()]
    return value


def _stock_map(value: Any) -> Any:
    """`3` is short for `{"Default": 3}`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {DEFAULT_LOCATION: value}
    return value


class ImportVariant(VariantCreate):
    """A variant as `VariantCreate` takes it, its option values named by option title instead
    of by id, with its prices and stock. `title` defaults to the option values ("M / Red")."""

    title: Text | None = None  # type: ignore[assignment]
    option_value_ids: list[Any] = Field(default_factory=list)
    options: dict[Text, Text] = Field(default_factory=dict, max_length=64)
    """Option title → value, one value of each option named."""
    prices: Annotated[list[PriceSet], BeforeValidator(_price_map)] = Field(
        default_factory=list, max_length=200)
    stock: Annotated[dict[Text, Quantity] | None, BeforeValidator(_stock_map)] = Field(
        default=None, max_length=50)
    """Stocked quantity per stock location name, or a number: at the `DEFAULT_LOCATION`; with
    stock the variant gets an inventory item (its SKU the variant's)."""

    @field_validator("option_value_ids")
    @classmethod
    def _no_value_ids(cls, value: list[Any]) -> list[Any]:
        if value:
            raise ValueError("an import names option values in `options` (title: value)")
        return value


class CategoryRef(BaseModel):
    """A commerce category by handle, with the name it gets if the import creates it."""

    model_config = ConfigDict(extra="forbid")
    handle: Slug
    name: Text | None = None


def _category_ref(value: Any) -> Any:
    return {"handle": value} if isinstance(value, str) else value


def _tag_ref(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


CategoryItem = Annotated[CategoryRef, BeforeValidator(_category_ref)]
TagItem = Annotated[TagCreate, BeforeValidator(_tag_ref)]


class ProductLine(ProductCreate):
    """One product line (`type` may be omitted): `ProductCreate`'s fields with its parts."""

    type: Literal["product"] = "product"
    options: list[OptionCreate] = Field(default_factory=list, max_length=20)
    variants: list[ImportVariant] = Field(default_factory=list, max_length=100)
    categories: list[CategoryItem] = Field(default_factory=list, max_length=50)
    """Handles (`"jackets"`) or `{handle, name}`; missing categories are created at the root,
    named `name` or after the handle."""
    tags: list[TagItem] = Field(default_factory=list, max_length=50)
    """Names (`"New in"`) or `{name, slug}`; a tag is found by its slug (derived from the name
    when not given) and created when missing."""


class NodeLine(content.NodeCreate):
    """One content node line (`"type": "node"`): `NodeCreate`'s fields for a page or post
    (comments need a parent node and are not imported), its slug required (the idempotency
    key with the kind), a content category by slug and tags by name."""

    type: Literal["node"]
    kind: Literal["page", "post"]
    slug: Slug
    category: Slug | None = None
    """A content category slug; created at the root when missing."""
    tags: list[TagItem] = Field(default_factory=list, max_length=50)


Line = ProductLine | NodeLine
LINE_MODELS: dict[str, type[ProductLine] | type[NodeLine]] = {
    "product": ProductLine, "node": NodeLine}


_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
"""How text PostgreSQL cannot store (a NUL, an unpaired surrogate) can be in a line that
`json.loads` takes: as an escape (raw, a NUL is a control character JSON refuses in a string,
a surrogate is not UTF-8). Only a line with one is walked by `check_input` (half the cost of
parsing a line); nesting is bounded by the line models and `check_json`."""


def parse_line(raw: bytes) -> Line:
    """One NDJSON line as a product or node (pure); `ImportLineRefused` names the field and
    the reason. A product line without a `type` and without an escape to walk is validated
    from its bytes by pydantic's JSON parser (a fifth of the cost); when that refuses it, the
    line is parsed again below, which names the field the way every refusal does."""
    if b'"type"' not in raw and not _UNSTORABLE_ESCAPE.search(raw):
        try:
            product = ProductLine.model_validate_json(raw)
        except ValidationError:
            pass
        else:
            check_product(product)
            return product
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ImportLineRefused("", f"not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise ImportLineRefused("", f"must be a JSON object, not {type(data).__name__}")
    kind = data.get("type", "product")
    model = LINE_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ImportLineRefused("type", f"must be one of {', '.join(LINE_MODELS)}")
    try:
        if _UNSTORABLE_ESCAPE.search(raw):
            check_input(data, "")  # names the field of the NUL or the lone surrogate
        spec = parse_input(model, data)
    except ValidationFailed as exc:
        field = exc.field
        raise ImportLineRefused(field, exc.message.removeprefix(f"{field}: ")) from None
    if isinstance(spec, ProductLine):
        check_product(spec)
    elif spec.parent_id is not None:
        raise ImportLineRefused("parent_id", "imported nodes are pages and posts, without a parent")
    return spec


def check_product(line: ProductLine) -> None:
    """What one line's parts must agree on (pure): distinct option titles, each variant naming
    existing values of existing options, distinct SKUs, derivable tag slugs."""
    options = {option.title: set(option.values) for option in line.options}
    if len(options) != len(line.options):
        raise ImportLineRefused("options", "two options have the same title")
    skus: set[str] = set()
    for i, variant in enumerate(line.variants):
        for title, value in variant.options.items():
            if title not in options:
                raise ImportLineRefused(f"variants.{i}.options.{title}", "no option of that title")
            if value not in options[title]:
                raise ImportLineRefused(f"variants.{i}.options.{title}",
                                f"{value!r} is not a value of the option")
        if variant.sku is not None:
            if variant.sku in skus:
                raise ImportLineRefused(f"variants.{i}.sku", "given to two variants")
            skus.add(variant.sku)
        prices = [(p.currency_code, p.min_quantity) for p in variant.prices]
        if len(set(prices)) != len(prices):
            raise ImportLineRefused(f"variants.{i}.prices",
                                    "two prices for one currency and quantity")
    for i, tag in enumerate(line.tags):
        if not tag_slug(tag):
            raise ImportLineRefused(f"tags.{i}.slug", "cannot be derived from the name; give one")


def tag_slug(tag: TagCreate) -> str:
    """A tag's slug: the one given, or derived from its name as `create_tag` derives it
    ('' when nothing is left). Names repeat across lines: each is derived once."""
    return tag.slug or _derived_tag_slug(tag.name)


@functools.lru_cache(maxsize=4096)
def _derived_tag_slug(name: str) -> str:
    return slugify(name, TAG_SLUG_MAX)


def line_key(line: Line) -> tuple[str, ...]:
    """What makes a line the same entity as another (pure)."""
    if isinstance(line, ProductLine):
        return ("product", line.handle)
    return ("node", line.kind, line.slug)


# ---- reading lines --------------------------------------------------------------------------
@dataclass
class RawLine:
    number: int
    data: bytes | None
    """The line without its newline; None when it is longer than `LINE_MAX_BYTES`."""
    end: int
    """Byte offset just past the line (its newline included)."""


async def split_lines(chunks: AsyncIterable[bytes], hasher: Any, *, first_line: int = 1,
                      offset: int = 0, max_line: int = LINE_MAX_BYTES,
                      max_bytes: int | None = None) -> AsyncIterator[RawLine]:
    """The lines of a byte stream, numbered from `first_line`, each fed to `hasher` before it
    is yielded (so the hash covers exactly the lines handed out); a line over `max_line`
    bytes is yielded without data, never held. More than `max_bytes` in all: `ImportTooLarge`."""
    buffer = bytearray()
    number, position, overlong = first_line, offset, 0
    async for chunk in chunks:
        if max_bytes is not None and position + len(buffer) + overlong + len(chunk) > max_bytes:
            raise ImportTooLarge(max_bytes)
        start = 0
        while True:
            cut = chunk.find(b"\n", start)
            if cut < 0:
                rest = chunk[start:]
                if overlong or len(buffer) + len(rest) > max_line:
                    hasher.update(buffer)
                    hasher.update(rest)
                    overlong += len(buffer) + len(rest)
                    buffer.clear()
                else:
                    buffer += rest
                break
            piece = chunk[start:cut + 1]
            if overlong or len(buffer) + len(piece) - 1 > max_line:
                hasher.update(buffer)
                hasher.update(piece)
                position += overlong + len(buffer) + len(piece)
                yield RawLine(number, None, position)
            else:
                buffer += piece
                hasher.update(buffer)
                position += len(buffer)
                yield RawLine(number, bytes(buffer[:-1]), position)
            buffer.clear()
            overlong = 0
            number += 1
            start = cut + 1
    if buffer or overlong:  # a last line without its newline
        hasher.update(buffer)
        position += overlong + len(buffer)
        yield RawLine(number, None if overlong else bytes(buffer), position)


async def skip_prefix(chunks: AsyncIterable[bytes], length: int, expected_sha256: str,
                      hasher: Any) -> AsyncIterator[bytes]:
    """The stream after its first `length` bytes, which are fed to `hasher` and must hash to
    `expected_sha256` (the part a previous run committed): `Conflict` if they do not."""
    left = length
    async for chunk in chunks:
        if left:
            head, chunk = chunk[:left], chunk[left:]
            hasher.update(head)
            left -= len(head)
            if left == 0 and hasher.hexdigest() != expected_sha256:
                raise Conflict("the input differs from the part this import already "
                               "committed: resume with the same input, or start a new "
                               "import", field="body")
        if chunk:
            yield chunk
    if left:
        raise Conflict(f"the input ends before the {length} bytes this import already "
                       "committed: resume with the same input", field="body")


# ---- jobs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LineFailure:
    line: int
    field: str
    reason: str


async def create_job(pool: asyncpg.Pool, tenant_id: uuid.UUID, requested_by: str, *,
                     source: str = "", total_bytes: int | None = None,
                     source_sha256: str | None = None,
                     import_id: uuid.UUID | None = None) -> dict[str, Any]:
    row = await pool.fetchrow(QUERIES["import_job_create"], import_id or new_id(), tenant_id,
                              requested_by, source[:500], total_bytes, source_sha256)
    assert row is not None
    return dict(row)


async def get_job(pool: asyncpg.Pool, import_id: uuid.UUID) -> dict[str, Any]:
    row = await pool.fetchrow(QUERIES["import_job_get"], import_id)
    if row is None:
        raise NotFound("import", import_id)
    return dict(row)


async def resumable_job(pool: asyncpg.Pool, tenant_id: uuid.UUID,
                        source_sha256: str) -> dict[str, Any] | None:
    row = await pool.fetchrow(QUERIES["import_job_resumable"], tenant_id, source_sha256)
    return dict(row) if row is not None else None


async def job_view(pool: asyncpg.Pool, job: dict[str, Any], errors: int = 100) -> dict[str, Any]:
    """A job as callers see it: `interrupted` for a running job whose runner is gone, with
    its first refused lines."""
    out = dict(job)
    if job["state"] == "running" and not await _runner_alive(pool, job["id"]):
        out["state"] = "interrupted"
    out["errors"] = [dict(r) for r in await pool.fetch(QUERIES["import_errors_get"],
                                                       job["id"], errors)]
    return out


async def list_jobs(pool: asyncpg.Pool, tenant_id: uuid.UUID | None,
                    limit: int = 50) -> list[dict[str, Any]]:
    rows = await pool.fetch(QUERIES["import_job_list"], tenant_id, limit)
    return [await job_view(pool, dict(row), errors=0) for row in rows]


async def _runner_alive(pool: asyncpg.Pool, import_id: uuid.UUID) -> bool:
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2::text))",
                                   IMPORT_LOCK, str(import_id)):
            return True
        await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2::text))", IMPORT_LOCK,
                           str(import_id))
        return False


# ---- the run -------------------------------------------------------------------------------
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


@dataclass
class _Refs:
    """Names resolved to ids for one chunk (created when missing)."""

    categories: dict[str, uuid.UUID] = field(default_factory=dict)
    tags: dict[str, uuid.UUID] = field(default_factory=dict)
    locations: dict[str, uuid.UUID] = field(default_factory=dict)
    content_categories: dict[str, uuid.UUID] = field(default_factory=dict)


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
                    refs = await self._refs(unit, products, nodes)
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

    # ---- names to ids -----------------------------------------------------------------------
    async def _refs(self, unit: Unit, products: list[tuple[int, ProductLine]],
                    nodes: list[tuple[int, NodeLine]]) -> _Refs:
        conn, tenant = unit.conn, self.tenant_id
        await conn.execute(QUERIES["import_refs_lock"], tenant)
        refs = _Refs()
        categories: dict[str, str] = {}
        tags: dict[str, str] = {}
        locations: set[str] = set()
        content_categories: set[str] = set()
        for _, line in products:
            for category in line.categories:
                categories.setdefault(category.handle, category.name or _title(category.handle))
            for tag in line.tags:
                tags.setdefault(tag_slug(tag), tag.name)
            for variant in line.variants:
                locations.update(variant.stock or ())
        for _, node in nodes:
            if node.category:
                content_categories.add(node.category)
            for tag in node.tags:
                tags.setdefault(tag_slug(tag), tag.name)
        if categories:
            refs.categories = await self._named(
                conn, "import_categories_find", "import_categories_create", "handle",
                categories, lambda i: unit.emit(tenant, ev.CommerceCategoryCreated(
                    category_id=i)))
        if tags:
            refs.tags = await self._named(
                conn, "import_tags_find", "import_tags_create", "slug", tags,
                lambda i: unit.emit(tenant, ev.TagCreated(tag_id=i)))
        if content_categories:
            refs.content_categories = await self._named(
                conn, "import_content_category_find", "import_content_categories_create",
                "slug", {slug: _title(slug) for slug in content_categories},
                lambda i: unit.emit(tenant, ev.CategoryCreated(category_id=i)))
        if locations:
            found = {r["name"]: r["id"] for r in await conn.fetch(
                QUERIES["import_locations_find"], tenant, sorted(locations))}
            missing = sorted(locations - set(found))
            if missing:
                ids = [new_id() for _ in missing]
                await conn.execute(QUERIES["import_locations_create"], tenant, ids, missing)
                found.update(zip(missing, ids, strict=True))
                for location_id in ids:
                    unit.emit(tenant, ev.StockLocationCreated(location_id=location_id))
            refs.locations = found
        return refs

    async def _named(self, conn: asyncpg.Connection, find: str, create: str, key: str,
                     wanted: dict[str, str],
                     created: Callable[[uuid.UUID], object]) -> dict[str, uuid.UUID]:
        """Ids by `key` (handle or slug), creating the missing with their names."""
        tenant = self.tenant_id
        found = {r[key]: r["id"] for r in await conn.fetch(QUERIES[find], tenant, list(wanted))}
        missing = [k for k in wanted if k not in found]
        if missing:
            rows = await conn.fetch(QUERIES[create], tenant, [new_id() for _ in missing],
                                    [wanted[k][:NAME_MAX] for k in missing], missing)
            for row in rows:
                found[row[key]] = row["id"]
                created(row["id"])
            if len(found) < len(wanted):  # made meanwhile by another writer
                found.update({r[key]: r["id"] for r in await conn.fetch(
                    QUERIES[find], tenant, [k for k in wanted if k not in found])})
        return found

    # ---- products ---------------------------------------------------------------------------
    async def _products(self, conn: asyncpg.Connection, lines: list[tuple[int, ProductLine]],
                        refs: _Refs, failures: list[LineFailure]) -> list[uuid.UUID]:
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
    async def _node(self, conn: asyncpg.Connection, line: NodeLine, refs: _Refs, number: int,
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


def _id_stream() -> Iterator[uuid.UUID]:
    while True:
        yield from new_ids(1024)


def _title(handle: str) -> str:
    return handle.replace("-", " ").capitalize()


def _field_of(exc: RustokError) -> str:
    found = getattr(exc, "field", None)
    return str(found) if found else ""


PRODUCT_COLUMNS = ("id", "tenant_id", "title", "subtitle", "handle", "description", "status",
                   "discountable", "metadata", "thumbnail", "published_at")
"""The columns of a product the import copies (the others get their defaults)."""
PART_COLUMNS: dict[str, tuple[str, ...]] = {
    "commerce_options": ("id", "tenant_id", "product_id", "title", "position"),
    "commerce_option_values": ("id", "tenant_id", "option_id", "value", "position"),
    "commerce_variants": ("id", "tenant_id", "product_id", "title", "sku", "barcode",
                          "manage_inventory", "allow_backorder", "weight", "length", "height",
                          "width", "position", "metadata"),
    "commerce_variant_options": ("tenant_id", "variant_id", "option_value_id"),
    "commerce_prices": ("id", "tenant_id", "variant_id", "currency_code", "amount",
                        "min_quantity"),
    "commerce_inventory_items": ("id", "tenant_id", "sku"),
    "commerce_variant_inventory": ("tenant_id", "variant_id", "inventory_item_id"),
    "commerce_inventory_levels": ("id", "tenant_id", "inventory_item_id", "location_id",
                                  "stocked_quantity"),
    "commerce_product_categories": ("tenant_id", "product_id", "category_id"),
}
"""The part tables of a product line in the order they are written (parents first), with the
columns the import sets (COPY fills the others with their defaults)."""


@dataclass
class PartRows:
    """A chunk's part rows as binary COPY data (`core_write.copy_binary`), per table of
    `PART_COLUMNS`, with what the writer checks and links besides."""

    data: dict[str, bytearray]
    """Each table's COPY data (header, rows, trailer)."""
    rows: dict[str, int]
    currencies: set[str]
    locations: set[uuid.UUID]
    """The stock locations the levels name (from `_Refs`)."""
    categories: set[uuid.UUID]
    tags: list[tuple[uuid.UUID, uuid.UUID]]
    """(tag id, product id) links."""


def part_rows(tenant: uuid.UUID, product_ids: list[uuid.UUID], specs: list[ProductLine],
              refs: _Refs) -> PartRows:
    """The part rows of product lines (pure but for the new ids): options and their values,
    variants with their option values, prices, inventory items with their levels, category
    links, encoded for a binary COPY into the `PART_COLUMNS`; the tag links as pairs. Each
    id is a new ULID's 16 bytes; the values a row repeats (the tenant, its product, variant,
    option, location, category) are encoded once."""
    cb = copy_binary
    u, r3, r5, r6, r14 = (cb.UUID_LEN, cb.row_start(3), cb.row_start(5), cb.row_start(6),
                          cb.row_start(14))
    int4, text, text_or_null = cb.int4, cb.text, cb.text_or_null
    tenant_field = cb.uuid_field(tenant.bytes)
    data = {table: bytearray(cb.HEADER) for table in PART_COLUMNS}
    options, values = data["commerce_options"], data["commerce_option_values"]
    variants, links = data["commerce_variants"], data["commerce_variant_options"]
    prices, items = data["commerce_prices"], data["commerce_inventory_items"]
    stocked, levels = data["commerce_variant_inventory"], data["commerce_inventory_levels"]
    cats = data["commerce_product_categories"]
    rows = dict.fromkeys(PART_COLUMNS, 0)
    new = _raw_id_stream()
    currency_fields: dict[str, bytes] = {}
    location_fields: dict[str, bytes] = {}
    category_fields: dict[uuid.UUID, bytes] = {}
    locations: set[uuid.UUID] = set()
    tags: list[tuple[uuid.UUID, uuid.UUID]] = []
    n_options = n_values = n_variants = n_links = n_prices = n_items = n_levels = n_cats = 0
    for product_id, spec in zip(product_ids, specs, strict=True):
        product_field = cb.uuid_field(product_id.bytes)
        value_fields: dict[tuple[str, str], bytes] = {}
        for position, option in enumerate(spec.options):
            option_field = u + next(new)
            options += b"".join((r5, option_field, tenant_field, product_field,
                                 text(option.title), int4(option.position or position)))
            n_options += 1
            for value_position, value in enumerate(option.values):
                value_field = value_fields[option.title, value] = u + next(new)
                values += b"".join((r5, value_field, tenant_field, option_field, text(value),
                                    int4(value_position)))
            n_values += len(option.values)
        for position, variant in enumerate(spec.variants):
            variant_field = u + next(new)
            variants += b"".join((
                r14, variant_field, tenant_field, product_field,
                text(variant.title or " / ".join(variant.options.values()) or spec.title),
                text_or_null(variant.sku), text_or_null(variant.barcode),
                cb.boolean(variant.manage_inventory), cb.boolean(variant.allow_backorder),
                cb.int4_or_null(variant.weight), cb.int4_or_null(variant.length),
                cb.int4_or_null(variant.height), cb.int4_or_null(variant.width),
                int4(variant.position or position), cb.jsonb(variant.metadata)))
            n_variants += 1
            for title, value in variant.options.items():
                links += b"".join((r3, tenant_field, variant_field, value_fields[title, value]))
            n_links += len(variant.options)
            for price in variant.prices:
                code = price.currency_code
                currency = currency_fields.get(code)
                if currency is None:
                    currency = currency_fields[code] = text(code)
                prices += b"".join((r6, u, next(new), tenant_field, variant_field, currency,
                                    cb.int8(price.amount), int4(price.min_quantity)))
            n_prices += len(variant.prices)
            if variant.stock is not None:
                item_field = u + next(new)
                items += b"".join((r3, item_field, tenant_field, text_or_null(variant.sku)))
                stocked += b"".join((r3, tenant_field, variant_field, item_field))
                n_items += 1
                for location, quantity in variant.stock.items():
                    location_field = location_fields.get(location)
                    if location_field is None:
                        location_id = refs.locations[location]
                        locations.add(location_id)
                        location_field = location_fields[location] = cb.uuid_field(
                            location_id.bytes)
                    levels += b"".join((r5, u, next(new), tenant_field, item_field,
                                        location_field, int4(quantity)))
                n_levels += len(variant.stock)
        for category_id in dict.fromkeys(refs.categories[c.handle] for c in spec.categories):
            category_field = category_fields.get(category_id)
            if category_field is None:
                category_field = category_fields[category_id] = cb.uuid_field(
                    category_id.bytes)
            cats += b"".join((r3, tenant_field, product_field, category_field))
            n_cats += 1
        for tag in spec.tags:
            tags.append((refs.tags[tag_slug(tag)], product_id))
    counts = (n_options, n_values, n_variants, n_links, n_prices, n_items, n_items, n_levels,
              n_cats)
    for table, count in zip(PART_COLUMNS, counts, strict=True):
        rows[table] = count
        data[table] += cb.TRAILER
    return PartRows(data, rows, set(currency_fields), locations, set(category_fields), tags)


def product_rows(tenant: uuid.UUID, products: list[tuple[uuid.UUID, ProductLine]],
                 now: datetime) -> bytearray:
    """New products as binary COPY data into the `PRODUCT_COLUMNS` (pure); `now` is the
    transaction's timestamp, a published product's `published_at` (as the upsert sets it)."""
    cb = copy_binary
    start, tenant_field = cb.row_start(len(PRODUCT_COLUMNS)), cb.uuid_field(tenant.bytes)
    text, text_or_null = cb.text, cb.text_or_null
    published_at = cb.timestamptz(now)
    data = bytearray(cb.HEADER)
    for product_id, spec in products:
        data += b"".join((
            start, cb.uuid_field(product_id.bytes), tenant_field, text(spec.title),
            text_or_null(spec.subtitle), text(spec.handle), text_or_null(spec.description),
            text(spec.status), cb.boolean(spec.discountable), cb.jsonb(spec.metadata),
            text_or_null(spec.thumbnail),
            published_at if spec.status == "published" else cb.NULL))
    data += cb.TRAILER
    return data


def _raw_id_stream() -> Iterator[bytes]:
    while True:
        yield from new_raw_ids(1024)


async def write_products(conn: asyncpg.Connection, tenant: uuid.UUID,
                         lines: list[tuple[int, ProductLine]], refs: _Refs, *,
                         replica: bool = False) -> list[uuid.UUID]:
    """Write product lines with one statement per table (the caller's transaction): the
    products whose handle is new, their options and values, variants and their option values,
    prices, inventory items with levels and category links as one binary COPY each
    (`product_rows`, `part_rows`); the products whose handle exists (their parts deleted
    first) as one multi-row upsert, and the tag links as one multi-row INSERT. Returns the
    product ids in line order.

    With `replica` the products and parts are written under `session_replication_role =
    replica`: the per-row foreign key checks (a product's ~55, most of the import's database
    time) do not run. Every parent a row names is either a row of the same chunk (its product,
    option, value, variant or inventory item: ids this function made and wrote in this
    transaction, which no other transaction sees) or a row outside it (the tenant, the
    currencies, the stock locations and categories): those are key-share locked, as the
    per-row checks lock them, and checked to exist in the tenant (`import_parents_lock` for
    the tenant and currencies here, `_refs` found the categories and locations with
    `FOR KEY SHARE`, `import_parents_check` after the COPYs). The products' other triggers
    are the capture's (off in the import's transactions). The tag links keep their triggers
    (the tag counters' statement triggers, migration 0022, and the foreign key to the tag).
    Without `replica` the per-row checks run as usual."""
    handles = [line.handle for _, line in lines]
    existing = {r["handle"]: r["id"] for r in await conn.fetch(
        QUERIES["import_products_lock"], tenant, handles)}
    if existing:
        old = list(existing.values())
        for name in ("import_clear_items", "import_clear_variants", "import_clear_options",
                     "import_clear_categories", "import_clear_tags"):
            await conn.execute(QUERIES[name], tenant, old)
    new = _id_stream()
    ids = [existing.get(h) or next(new) for h in handles]
    specs = [line for _, line in lines]
    parts = part_rows(tenant, ids, specs, refs)
    currencies = sorted(parts.currencies)
    parents = await conn.fetchrow(QUERIES["import_parents_lock"], tenant, currencies)
    if parents is None or parents["found"] != 1 + len(currencies):
        raise NotFound("referenced entity", "", "the tenant or a currency does not exist")
    if replica:
        await conn.execute(QUERIES["import_replica_on"])
    fresh = [(i, spec) for i, spec in zip(ids, specs, strict=True) if spec.handle not in existing]
    if fresh:
        await _copy(conn, "commerce_products", product_rows(tenant, fresh, parents["now"]),
                    PRODUCT_COLUMNS, len(fresh))
    if existing:
        kept = [spec for spec in specs if spec.handle in existing]
        rows = await conn.fetch(
            QUERIES["import_products_upsert"], tenant, [existing[s.handle] for s in kept],
            [s.title for s in kept], [s.subtitle for s in kept], [s.handle for s in kept],
            [s.description for s in kept], [s.status for s in kept],
            [s.discountable for s in kept], [s.metadata for s in kept],
            [s.thumbnail for s in kept])
        returned = {r["handle"]: r["id"] for r in rows}
        for spec in kept:
            if returned.get(spec.handle) != existing[spec.handle]:
                raise Conflict(f"product {spec.handle!r} was written meanwhile by another "
                               "writer; import the line again", field="handle")
    for table, count in parts.rows.items():
        if count:
            await _copy(conn, table, parts.data[table], PART_COLUMNS[table], count)
    if replica:
        await conn.execute(QUERIES["import_replica_off"])
        if not await conn.fetchval(QUERIES["import_parents_check"], tenant,
                                   list(parts.locations), list(parts.categories)):
            raise NotFound("referenced entity", "", "a part of a line references a row "
                           "that does not exist")
    if parts.tags:  # in tag order: the links' counter triggers lock the tags in one order
        pairs = sorted(parts.tags)
        await conn.execute(QUERIES["import_taggables_insert"], tenant, [p[0] for p in pairs],
                           "product", [p[1] for p in pairs])
    return ids


async def _copy(conn: asyncpg.Connection, table: str, data: bytearray, columns: tuple[str, ...],
                count: int) -> None:
    """Binary COPY data into `table`; `Conflict` unless it wrote `count` rows."""
    status = await conn.copy_to_table(table, source=data, columns=columns, format="binary")
    if status != f"COPY {count}":
        raise Conflict(f"{table}: {status}, not {count} rows", field="")
