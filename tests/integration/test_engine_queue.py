"""The engine change queue on its own: a re-queue moves a document to the back and keeps its
oldest event time, a follower's delete spares what was re-queued meanwhile, and what still
waits answers read-your-writes and readiness."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from core_write.unit import CoreWrite
from indexer.engine_queue import age, backlog, delete_applied, enqueue, read, waiting
from search_api.freshness import is_indexed, lag
from tests.builders import make_tenant, outbox_mark

T = uuid.UUID("01900000-0000-7000-8000-0000000000aa")


async def test_a_requeue_moves_to_the_back_and_survives_the_delete(pool: asyncpg.Pool) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    old = datetime.now(UTC) - timedelta(minutes=5)
    await enqueue(pool, ["tantivy", "meilisearch"], "product", [first, second], [T, T], old)
    read_first = await read(pool, "tantivy", 0, 10)
    assert [e.doc_id for e in read_first] == [first, second]
    await enqueue(pool, ["tantivy"], "product", [first], [T], datetime.now(UTC))
    again = await read(pool, "tantivy", 0, 10)
    assert [e.doc_id for e in again] == [second, first]  # to the back, with a new seq
    assert again[1].event_time == old  # the oldest change behind it still counts
    assert await read(pool, "tantivy", read_first[0].seq, 10) == again
    # a follower applied what it read first: the re-queued row stays
    assert await delete_applied(pool, "tantivy", read_first) == 1
    assert [e.doc_id for e in await read(pool, "tantivy", 0, 10)] == [first]
    assert await backlog(pool, ["tantivy", "meilisearch", "other"]) == {
        "tantivy": 1, "meilisearch": 2, "other": 0}


async def test_waiting_changes_answer_freshness_and_lag(pool: asyncpg.Pool) -> None:
    tenant = (await make_tenant(CoreWrite(pool)))["id"]
    token = await outbox_mark(pool)
    since = datetime.now(UTC)
    assert not await is_indexed(pool, token, tenant, None, since)  # not acknowledged yet
    await pool.execute("UPDATE outbox SET published_at = now(), stream_ms = 1, stream_seq = 0,"
                       " acked_at = now() WHERE seq <= $1", token)
    acked = await pool.fetchval("SELECT acked_at FROM outbox WHERE seq = $1", token)
    assert await is_indexed(pool, token, tenant, None, since)
    assert await is_indexed(pool, token, tenant, "tantivy", since)
    doc = uuid.uuid4()
    await enqueue(pool, ["tantivy"], "product", [doc], [tenant], acked - timedelta(seconds=1))
    assert await waiting(pool, "tantivy", tenant, acked)
    assert not await waiting(pool, "tantivy", T, acked)  # another tenant's change
    assert not await is_indexed(pool, token, tenant, "tantivy", since)
    assert await is_indexed(pool, token, tenant, "meilisearch", since)
    assert await age(pool, "tantivy") >= 1 and await age(pool, "meilisearch") == 0
    assert await lag(pool, "tantivy") >= 1 and await lag(pool, None) < 1
    await delete_applied(pool, "tantivy", await read(pool, "tantivy", 0, 10))
    assert await is_indexed(pool, token, tenant, "tantivy", since)
    await pool.execute("DELETE FROM outbox WHERE seq <= $1", token)  # purged after its ack
    assert await is_indexed(pool, token, tenant, "tantivy", since)
