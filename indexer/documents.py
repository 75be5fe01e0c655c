"""Builds and writes search documents (I/O: PostgreSQL).

`resolve` turns a batch plan into document ids; `apply_documents` rebuilds those documents
with one set-based statement per chunk (see `sql/documents.sql`): the versioned upsert into the
index table, the delete of documents whose source is gone, and the engine queue rows, all in the
transaction that first takes the documents' advisory locks.

A chunk that fails on one document's data (an error PostgreSQL raises for that row, not an
outage) is split in halves until that document is alone: every other document is written,
and the failing ones are returned with their errors for the caller to retry or report.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from indexer import metrics
from indexer.engine_queue import enqueue_sql
from indexer.fanout import LOOKUPS, BatchPlan
from indexer.model import SPECS, DocType
from indexer.queries import QUERIES

log = logging.getLogger(__name__)


def build_statement(doc_type: DocType) -> str:
    """SELECT the documents of $1 (ids) as built from the source ($2: include drafts)."""
    return QUERIES[f"build_{SPECS[doc_type].section}"]


def words_cte(doc_type: DocType) -> str:
    """The CTE `words` that adds the words of the `built` documents to their tenants'
    vocabulary (typo and prefix matching in PostgreSQL)."""
    return QUERIES["write_words"].replace("{doc_type}", doc_type)


def write_statement(doc_type: DocType) -> str:
    """Build and write in one statement: $1 ids, $2 include drafts, $3 engines, $4 event
    times parallel to $1. Returns the counts upserted, deleted and queued."""
    return (
        "WITH ids AS (SELECT DISTINCT ON (id) id, t AS event_time "
        "FROM unnest($1::uuid[], $4::timestamptz[]) AS u(id, t) ORDER BY id, t),\n"
        f"built AS (\n{build_statement(doc_type)}\n),\n{words_cte(doc_type)},\n"
        + QUERIES[f"write_{SPECS[doc_type].section}"].replace(
            "{enqueue_changed}", enqueue_sql("changed", "$3"))
    )


WRITE: dict[DocType, str] = {"product": write_statement("product"),
                             "content": write_statement("content")}

NO_JIT = "SET LOCAL jit = off"
"""Run first in every transaction that builds documents. A batch of a few hundred documents
costs the planner more than `jit_above_cost`, so PostgreSQL compiles the statement to
machine code on each execution (about 90 ms for 500 products, more than a third of the
statement) to save a few per cent of its run time: a loss for every batch size we use."""

DocTimes = dict[uuid.UUID, datetime]


@dataclass
class ApplyResult:
    upserted: int = 0
    deleted: int = 0
    queued: int = 0
    failed: dict[tuple[DocType, uuid.UUID], str] = field(default_factory=dict)
    """Documents that could not be built or written, with the error: nothing of theirs was
    written (the previous document, if any, stays)."""

    def __iadd__(self, other: ApplyResult) -> ApplyResult:
        self.upserted += other.upserted
        self.deleted += other.deleted
        self.queued += other.queued
        self.failed.update(other.failed)
        return self


# SQLSTATE classes PostgreSQL raises for a row's data, when the same statement works for other
# rows: data exceptions (22: a value out of range, a tsvector too long), integrity
# constraints (23), program limits (54: an index row too big), PL/pgSQL RAISE (P0) and routine
# exceptions (2F, 38, 39) of triggers or functions, WITH CHECK OPTION (44). Anything else (an
# outage, a deadlock, a statement timeout, a broken statement) says nothing about one row.
_ABOUT_ROWS = ("22", "23", "54", "P0", "2F", "38", "39", "44")


def document_error(exc: BaseException) -> bool:
    """Whether `exc` is PostgreSQL refusing a document's data (pure)."""
    if not isinstance(exc, asyncpg.PostgresError):
        return False
    return str(getattr(exc, "sqlstate", "") or "").startswith(_ABOUT_ROWS)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def count_truncated(doc_type: DocType, ids: Sequence[uuid.UUID]) -> None:
    """Count and log documents whose searchable text was cut at the bound."""
    if not ids:
        return
    metrics.TRUNCATED.labels(doc_type).inc(len(ids))
    log.warning("searchable text of %d %s document(s) cut at the bound: %s", len(ids),
                doc_type, ", ".join(map(str, ids[:20])),
                extra={"action": "truncated", "entity": doc_type})


def _merge(into: DocTimes, doc_id: uuid.UUID, at: datetime) -> None:
    if doc_id not in into or at < into[doc_id]:
        into[doc_id] = at


async def resolve(conn: asyncpg.Connection, plan: BatchPlan) -> dict[DocType, DocTimes]:
    """The documents a batch plan names, with the oldest event time behind each."""
    out: dict[DocType, DocTimes] = {"product": {}, "content": {}}
    for (_tenant, doc_type), docs in plan.docs.items():
        for doc_id, at in docs.items():
            _merge(out[doc_type], doc_id, at)
    for (tenant, name), keys in plan.lookups.items():
        rows = await conn.fetch(QUERIES[f"lookup_{name}"], tenant, list(keys))
        target = out[LOOKUPS[name]]
        for row in rows:
            _merge(target, row["doc_id"], keys[row["via"]])
    return out


async def apply_documents(
    pool: asyncpg.Pool, doc_type: DocType, docs: Mapping[uuid.UUID, datetime],
    engines: tuple[str, ...], index_drafts: bool, chunk: int = 1000,
) -> ApplyResult:
    """Rebuild `docs` from the current source, `chunk` documents per transaction; a
    document whose data PostgreSQL refuses is isolated and returned in `failed`."""
    result = ApplyResult()

    async def write(part: list[uuid.UUID]) -> None:
        nonlocal result
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(NO_JIT)
            await conn.fetchval(QUERIES["lock_documents"], SPECS[doc_type].lock_class, part)
            row = await conn.fetchrow(WRITE[doc_type], part, index_drafts, list(engines),
                                      [docs[i] for i in part])
        assert row is not None
        result += ApplyResult(row["upserted"], row["deleted"], row["queued"])
        count_truncated(doc_type, row["truncated"])

    ids = sorted(docs)
    for start in range(0, len(ids), chunk):
        await isolating(doc_type, ids[start:start + chunk], write, result.failed)
    return result


async def isolating(
    doc_type: DocType, ids: list[uuid.UUID],
    attempt: Callable[[list[uuid.UUID]], Awaitable[None]],
    failed: dict[tuple[DocType, uuid.UUID], str],
) -> None:
    """`attempt(ids)` (one transaction); when PostgreSQL refuses a document's data, halve
    `ids` until each failing document is alone: those go to `failed` with their error, every
    other document is attempted again. Outages and other errors propagate."""
    try:
        await attempt(ids)
    except Exception as exc:
        if not document_error(exc):
            raise
        if len(ids) > 1:
            half = len(ids) // 2
            await isolating(doc_type, ids[:half], attempt, failed)
            await isolating(doc_type, ids[half:], attempt, failed)
            return
        failed[doc_type, ids[0]] = describe(exc)
        metrics.DOCUMENT_FAILURES.labels(doc_type).inc()
        log.warning("%s document %s cannot be built: %s", doc_type, ids[0], describe(exc),
                    extra={"action": "document_failed", "entity": doc_type})
