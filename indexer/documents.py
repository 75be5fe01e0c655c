"""Builds and writes search documents (I/O: PostgreSQL).

`resolve` turns a batch plan into document ids; `apply_documents` rebuilds those documents
with one set-based statement per chunk (see `sql/documents.sql`): the versioned upsert into the
index table, the delete of documents whose source is gone, and the engine queue rows, all in the
transaction that first takes the documents' advisory locks.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from indexer.engine_queue import enqueue_sql
from indexer.fanout import LOOKUPS, BatchPlan
from indexer.model import SPECS, DocType
from indexer.queries import QUERIES


def build_statement(doc_type: DocType) -> str:
    """SELECT the documents of $1 (ids) as built from the source ($2: include drafts)."""
    return QUERIES[f"build_{SPECS[doc_type].section}"]


def write_statement(doc_type: DocType) -> str:
    """Build and write in one statement: $1 ids, $2 include drafts, $3 engines, $4 event
    times parallel to $1. Returns the counts upserted, deleted and queued."""
    return (
        "WITH ids AS (SELECT DISTINCT ON (id) id, t AS event_time "
        "FROM unnest($1::uuid[], $4::timestamptz[]) AS u(id, t) ORDER BY id, t),\n"
        f"built AS (\n{build_statement(doc_type)}\n),\n"
        + QUERIES[f"write_{SPECS[doc_type].section}"].replace(
            "{enqueue_changed}", enqueue_sql("changed", "$3"))
    )


WRITE: dict[DocType, str] = {"product": write_statement("product"),
                             "content": write_statement("content")}

DocTimes = dict[uuid.UUID, datetime]


@dataclass
class ApplyResult:
    upserted: int = 0
    deleted: int = 0
    queued: int = 0

    def __iadd__(self, other: ApplyResult) -> ApplyResult:
        self.upserted += other.upserted
        self.deleted += other.deleted
        self.queued += other.queued
        return self


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
    """Rebuild `docs` from the current source, `chunk` documents per transaction."""
    result = ApplyResult()
    ids = sorted(docs)
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        async with pool.acquire() as conn, conn.transaction():
            await conn.fetchval(QUERIES["lock_documents"], SPECS[doc_type].lock_class, part)
            row = await conn.fetchrow(WRITE[doc_type], part, index_drafts, list(engines),
                                      [docs[i] for i in part])
        assert row is not None
        result += ApplyResult(row["upserted"], row["deleted"], row["queued"])
    return result
