"""The Meilisearch follower: the one writer of the tenants' indexes, on the engine follower
skeleton (`indexer.follower`), and rebuilds an index behind an index swap (I/O: PostgreSQL,
Redis, Meilisearch).

Why it is built this way:
- Each drain reads the oldest queue rows, sends one documents task and one delete task per
  index and waits for them, so the queue rows are deleted only once Meilisearch applied them.
  Meilisearch runs an index's tasks in enqueue order and the next drain starts after these
  finished, so changes land in queue order.
- A failed task is split in halves until the refused document is alone; the skeleton retries
  it and dead-letters it after `max_attempts`.
- An index is created (with its settings) on first use (`indexes.MeiliIndexes`).
- A rebuild fills `{uid}__next` from the index table while the live index keeps serving and
  following the queue, then swaps the two indexes and deletes the old one.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.models.task import TaskInfo

from indexer import index_rows
from indexer.engine_queue import QueueEntry
from indexer.follower import Docs, EngineFollower, Refused
from indexer.meili import client as meili
from indexer.meili.config import ENGINE, NEXT, MeiliConfig, index_uid
from indexer.meili.indexes import Key, MeiliIndexes
from indexer.model import DocType
from indexer.model.engines import meili_document

log = logging.getLogger(__name__)


REBUILD_TASKS_AHEAD = 4
"""Document tasks a rebuild enqueues before it waits for the oldest (at most this many pages
of `MEILISEARCH_BATCH_SIZE` documents, each under `MAX_PAYLOAD_BYTES`, wait in the server's
queue)."""
MAX_PAYLOAD_BYTES = 20_000_000
"""The largest documents request sent (Meilisearch refuses requests above 100 MB by default,
and long texts make a batch of documents that large): a batch above it goes in parts."""


def payload_parts(docs: Docs, limit: int = MAX_PAYLOAD_BYTES) -> list[Docs]:
    """`docs` in order, cut into parts whose JSON stays under `limit` bytes (a document larger
    than that alone); ASCII-escaped JSON length bounds the UTF-8 size from above (pure)."""
    parts: list[Docs] = []
    start, size = 0, 0
    for index, (_doc_id, doc) in enumerate(docs):
        length = len(json.dumps(doc, default=str)) + 1
        if index > start and size + length > limit:
            parts.append(docs[start:index])
            start, size = index, 0
        size += length
    parts.append(docs[start:])
    return parts


class MeiliFollower(EngineFollower[Key, str]):
    engine = ENGINE
    label = "meili"

    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis, client: AsyncClient,
                 config: MeiliConfig, stream_prefix: str) -> None:
        super().__init__(pool, redis, stream_prefix, batch=config.batch,
                         poll_interval=config.poll_interval, max_attempts=config.max_attempts)
        self.client = client
        self.config = config
        self.indexes = MeiliIndexes(pool, client, config)

    async def outdated(self) -> list[Key]:
        """Indexes marked for a rebuild or built with an older document shape, not being
        rebuilt now."""
        return [key for key in await self.indexes.outdated() if not self.rebuilding(key)]

    # ---- the engine part of the skeleton --------------------------------------------------
    def key(self, entry: QueueEntry) -> Key:
        return (entry.tenant_id, entry.doc_type)

    def document(self, doc_type: DocType, row: Mapping[str, Any]) -> dict[str, Any]:
        return meili_document(doc_type, row, self.config.currencies)

    async def target(self, key: Key) -> str:
        return await self.indexes.ensure(key)

    async def write(self, target: str, doc_type: DocType, docs: Docs) -> Refused:
        """Send `docs` to the index `target`; the ids that still failed alone, with their
        task's error (halving a failed batch until the culprit is alone)."""
        gone = [doc_id for doc_id, doc in docs if doc is None]
        # the deletion is enqueued first and waited for last: the server runs an index's
        # tasks in order (often in one batch), so the wait costs nothing more
        deletion = await self.client.index(target).delete_documents(
            [str(i) for i in gone]) if gone else None
        failed = await self.load(target, doc_type,
                                 [(i, doc) for i, doc in docs if doc is not None])
        if deletion is not None:
            try:
                await meili.wait(self.client, deletion, "delete", self.config.task_timeout_ms)
                self.stats.deletes += len(gone)
            except meili.TaskFailed as exc:
                failed.update((doc_id, exc.message) for doc_id in gone)
        return failed

    async def load(self, target: str, doc_type: DocType, docs: Docs) -> Refused:
        if not docs:
            return {}
        parts = payload_parts(docs)
        if len(parts) > 1:
            refused: Refused = {}
            for part in parts:
                refused.update(await self.load(target, doc_type, part))
            return refused
        try:
            await self.indexes.task(self.client.index(target).add_documents(
                [doc for _, doc in docs if doc is not None], primary_key="id"), "documents")
        except meili.TaskFailed as exc:
            if len(docs) == 1:
                return {docs[0][0]: exc.message}
            half = len(docs) // 2
            return {**await self.load(target, doc_type, docs[:half]),
                    **await self.load(target, doc_type, docs[half:])}
        self.stats.docs_applied += len(docs)
        return {}

    # ---- rebuild --------------------------------------------------------------------------
    async def load_pages(self, target: str, doc_type: DocType, pages: AsyncIterable[Docs]
                         ) -> AsyncIterator[tuple[Docs, Refused]]:
        """A rebuild's pages enqueued up to `REBUILD_TASKS_AHEAD` tasks ahead of the one
        waited for: Meilisearch indexes the additions queued meanwhile in one batch instead
        of one indexing run per page. A page whose task failed is sent again on its own
        (halved until the refused document is alone): after the later pages, which is safe as
        a rebuild sends each id once."""
        ahead: deque[tuple[Docs, TaskInfo]] = deque()

        async def settle() -> tuple[Docs, Refused]:
            docs, task = ahead.popleft()
            try:
                await meili.wait(self.client, task, "documents", self.config.task_timeout_ms)
            except meili.TaskFailed:
                return docs, await self.load(target, doc_type, docs)
            self.stats.docs_applied += len(docs)
            return docs, {}

        async for page in pages:
            for docs in payload_parts(page) if page else []:
                task = await self.client.index(target).add_documents(
                    [doc for _, doc in docs if doc is not None], primary_key="id")
                ahead.append((docs, task))
                if len(ahead) > REBUILD_TASKS_AHEAD:
                    yield await settle()
        while ahead:
            yield await settle()

    async def rebuild(self, tenant_id: uuid.UUID, doc_type: DocType) -> int:
        """Build a tenant's index anew in `{uid}__next` and swap it in; returns the number
        of documents loaded. Searches keep using the old index until the swap."""
        key: Key = (tenant_id, doc_type)
        live = index_uid(self.config.prefix, tenant_id, doc_type)
        temp = live + NEXT
        async with self._rebuild_of(key):
            await self.indexes.drop(temp)  # what a crashed rebuild left
            await self.indexes.create(temp, doc_type)
            loaded = await self._load(temp, doc_type, index_rows.stream_rows(
                self.pool, doc_type, self.config.batch, tenant_id))

            async def swap() -> None:
                await self.indexes.ensure(key)
                await self.indexes.task(self.client.swap_indexes([(live, temp)]), "swap")
                await self.indexes.record(key, live)

            changed = await self._switch(key, temp, doc_type, swap)
        await self.indexes.drop(temp)  # now the old generation
        log.info("rebuilt %s: %d documents, %d changed meanwhile", live, loaded, changed,
                 extra={"action": "meili_rebuild", "entity": doc_type,
                        "tenant": str(tenant_id)})
        return loaded
