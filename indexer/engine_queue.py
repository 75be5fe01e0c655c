"""The per-engine change queue `engine_queue`, the one home of its SQL (`sql/engine_queue.sql`):
queuing documents for engines, reading and deleting what a follower applied, the backlog and
what still waits for read-your-writes and readiness (I/O: PostgreSQL through asyncpg;
`enqueue_sql` is pure).

Every change to an index row queues its document in the same transaction, so the queue is the
complete change log the engine followers apply in seq order. Set-based writes that must queue
within their own statement (the document writes, the generation-table swap) compose
`enqueue_sql` instead of running a second statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from indexer.model import DocType
from indexer.queries import QUERIES

CHANNEL = "rustok_engine_queue"
"""Notified at the commit of every statement that queued changes (migration 0026): the
followers LISTEN on it."""


def enqueue_sql(docs: str, engines: str) -> str:
    """The INSERT that queues the rows (doc_type, doc_id, tenant_id, event_time) of `docs` (a
    CTE name or a parenthesized SELECT) for each engine of `engines` (a text[] parameter like
    `$3`)."""
    return _fragment("engine_queue_enqueue").replace("{docs}", docs).replace("{engines}",
                                                                           engines)


def _fragment(name: str) -> str:
    """A named section without its comment lines, to be composed into a statement."""
    return "\n".join(line for line in QUERIES[name].splitlines()
                     if not line.lstrip().startswith("--"))


ENQUEUE_IDS = enqueue_sql(f"({_fragment('engine_queue_ids')})", "$1")


@dataclass(frozen=True)
class QueueEntry:
    doc_type: DocType
    doc_id: uuid.UUID
    seq: int
    event_time: datetime
    tenant_id: uuid.UUID


async def enqueue(
    db: asyncpg.Pool | asyncpg.Connection, engines: Sequence[str], doc_type: DocType,
    ids: Sequence[uuid.UUID], tenants: Sequence[uuid.UUID], event_time: datetime | None = None,
) -> None:
    """Queue `ids` (of `tenants`, parallel) for `engines`; a document still waiting moves to
    the back. Without an event time the queue time stands for it in the lag."""
    await db.execute(ENQUEUE_IDS, list(engines), doc_type, list(ids), list(tenants),
                     event_time)


async def enqueue_table(
    db: asyncpg.Pool | asyncpg.Connection, engines: Sequence[str], doc_type: DocType,
    table: str, key: str, event_time: datetime,
) -> None:
    """Queue every document of the index table `table` (id column `key`, from a closed set of
    names, never from input) for `engines`."""
    docs = _fragment("engine_queue_table").replace("{table}", table).replace("{key}", key)
    await db.execute(enqueue_sql(f"({docs})", "$1"), list(engines), doc_type, event_time)


async def read(pool: asyncpg.Pool, engine: str, after_seq: int, limit: int) -> list[QueueEntry]:
    """Rows of `engine` with a seq above `after_seq`, in seq order."""
    rows = await pool.fetch(QUERIES["engine_queue_read"], engine, after_seq, limit)
    return [QueueEntry(row["doc_type"], row["doc_id"], row["seq"], row["event_time"],
                       row["tenant_id"]) for row in rows]


async def delete_applied(pool: asyncpg.Pool, engine: str, entries: Sequence[QueueEntry]) -> int:
    """Delete the rows that were applied, unless they were re-queued since."""
    status: str = await pool.execute(
        QUERIES["engine_queue_delete_applied"], engine, [e.doc_type for e in entries],
        [e.doc_id for e in entries], [e.seq for e in entries])
    return int(status.split()[-1])


async def waiting(pool: asyncpg.Pool, engine: str, tenant_id: uuid.UUID,
                  until: datetime) -> bool:
    """Does a change of the tenant queued for `engine` at or before `until` still wait?"""
    return bool(await pool.fetchval(QUERIES["engine_queue_waiting"], engine, tenant_id, until))


async def age(pool: asyncpg.Pool, engine: str) -> float:
    """Seconds since the oldest change waiting for `engine` happened (0: none waits)."""
    return float(await pool.fetchval(QUERIES["engine_queue_age"], engine) or 0)


async def tenant_ages(pool: asyncpg.Pool, engine: str) -> dict[uuid.UUID, float]:
    """`age` per tenant that has a change waiting for `engine` (the API's `stale` flag)."""
    return {row["tenant_id"]: float(row["age"])
            for row in await pool.fetch(QUERIES["engine_queue_tenant_ages"], engine)}


async def backlog(pool: asyncpg.Pool, engines: Sequence[str] = ()) -> dict[str, int]:
    """Rows waiting per engine (`engines` read 0 when none wait)."""
    counts = dict.fromkeys(engines, 0)
    for row in await pool.fetch(QUERIES["engine_queue_backlog"]):
        counts[row["engine"]] = row["n"]
    return counts
