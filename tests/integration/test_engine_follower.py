"""The follower skeleton with a minimal engine part (an index held in a dict), against the real
queue, index tables and Redis: refused documents are retried then dead-lettered without
blocking the rest, and the rebuild handshake rewrites what changed during the load."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from core_write.settings import Settings
from indexer.engine_queue import QueueEntry, backlog, enqueue
from indexer.follower import Docs, EngineFollower, RebuildRunning, Refused, Rows
from indexer.model import DocType
from tests.integration.test_tantivy_follower import A, product_row, upsert
from tests.waiting import wait_until

Index = dict[str, dict[str, Any]]


class DictFollower(EngineFollower[DocType, Index]):
    """An engine whose index is a dict and which refuses titles in `refuse`."""

    engine = "dict"
    label = "dict"

    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis, prefix: str) -> None:
        super().__init__(pool, redis, prefix, batch=100, poll_interval=0.01, max_attempts=3)
        self.live: Index = {}
        self.refuse: set[str] = set()

    def key(self, entry: QueueEntry) -> DocType:
        return entry.doc_type

    def document(self, doc_type: DocType, row: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": str(row["product_id"]), "title": row["title"]}

    async def target(self, key: DocType) -> Index:
        return self.live

    async def write(self, target: Index, doc_type: DocType, docs: Docs) -> Refused:
        refused: Refused = {}
        for doc_id, doc in docs:
            if doc is None:
                target.pop(str(doc_id), None)
            elif doc["title"] in self.refuse:
                refused[doc_id] = f"cannot take {doc['title']}"
            else:
                target[str(doc_id)] = doc
        return refused

    load = write

    async def rebuild(self, pages: AsyncIterator[Rows]) -> Index:
        new: Index = {}
        async with self._rebuild_of("product"):
            await self._load(new, "product", pages)

            async def go_live() -> None:
                self.live = new

            await self._switch("product", new, "product", go_live)
        return new


async def put(pool: asyncpg.Pool, title: str, row: dict[str, Any] | None = None
              ) -> dict[str, Any]:
    row = dict(row or product_row(), title=title)
    await upsert(pool, "index_products", "product_id", row)
    await enqueue(pool, ["dict"], "product", [row["product_id"]], [A], datetime.now(UTC))
    return row


@pytest.fixture
def follower(pool: asyncpg.Pool, redis_client: aioredis.Redis,
             settings: Settings) -> DictFollower:
    return DictFollower(pool, redis_client, settings.stream_prefix)


async def test_a_refused_document_is_retried_then_dead_lettered(
    pool: asyncpg.Pool, redis_client: aioredis.Redis, follower: DictFollower,
) -> None:
    follower.refuse = {"Poison"}
    bad = await put(pool, "Poison")
    good = await put(pool, "Fine")
    assert await follower.drain_once() == 1  # the good one is not held up
    assert str(good["product_id"]) in follower.live and follower._failing
    assert await follower.drain_once() == 0  # second attempt
    assert await follower.drain_once() == 1  # third: given up, off the queue
    assert not follower._failing and await backlog(pool) == {}
    letters = await redis_client.xrange(follower.dlq)
    assert len(letters) == 1 and follower.stats.dead_lettered == 1
    fields = letters[0][1]
    assert fields[b"engine"] == b"dict" and fields[b"doc_id"] == str(bad["product_id"]).encode()
    assert fields[b"error"] == b"cannot take Poison"


async def test_the_rebuild_rewrites_what_changed_during_the_load(
    pool: asyncpg.Pool, follower: DictFollower,
) -> None:
    stays = await put(pool, "Stays")
    renamed = await put(pool, "Old name")
    await follower.drain_once()
    gate = asyncio.Event()

    async def pages() -> AsyncIterator[Rows]:
        yield await pool.fetch("SELECT * FROM index_products")  # before the rename
        await gate.wait()

    building = asyncio.create_task(follower.rebuild(pages()))

    async def started() -> bool:
        return follower.rebuilding("product")

    await wait_until(started, timeout=5, interval=0.01, what="the rebuild to start")
    with pytest.raises(RebuildRunning):
        await follower.rebuild(pages())
    await put(pool, "New name", renamed)
    assert await follower.drain_once() == 1  # applied to the live index, and recorded
    gate.set()
    new = await building
    assert follower.live is new and follower.stats.rebuilds == 1
    assert {d["title"] for d in new.values()} == {"Stays", "New name"}
    assert new[str(stays["product_id"])]["title"] == "Stays"
    assert not follower.rebuilding()
