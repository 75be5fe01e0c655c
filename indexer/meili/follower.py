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
- An index is created (with its settings) on first use; settings are compared with the code's
  at start-up and updated when they drift.
- A rebuild fills `{uid}__next` from the index table while the live index keeps serving and
  following the queue, then swaps the two indexes and deletes the old one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.models.settings import MeilisearchSettings

from indexer.engine_queue import QueueEntry
from indexer.follower import Docs, EngineFollower, Refused
from indexer.meili import client as meili
from indexer.meili.config import DOC_TYPES, ENGINE, NEXT, MeiliConfig, index_uid, parse_uid
from indexer.meili.documents import SHAPE_VERSION, index_settings, meili_document, settings_drift
from indexer.tantivy import gateway
from indexer.tantivy.config import DocType

log = logging.getLogger(__name__)

Key = tuple[uuid.UUID, DocType]


class MeiliFollower(EngineFollower[Key, str]):
    engine = ENGINE
    label = "meili"

    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis, client: AsyncClient,
                 config: MeiliConfig, stream_prefix: str) -> None:
        super().__init__(pool, redis, stream_prefix, batch=config.batch,
                         poll_interval=config.poll_interval, max_attempts=config.max_attempts)
        self.client = client
        self.config = config
        self._known: set[str] = set()

    # ---- start-up -------------------------------------------------------------------------
    async def start(self) -> list[Key]:
        """Check the server, bring every index's settings in line with the code, and return
        the (tenant, doc type) pairs whose index must be (re)built: documents in the index
        table but no index, or an index built with an older document shape."""
        await meili.check(self.client, self.config)
        log.info("meilisearch at %s", self.config.url, extra={"action": "meili_start"})
        existing = await self._our_indexes()
        for uid, (_tenant, doc_type) in sorted(existing.items()):
            await self._sync_settings(uid, doc_type)
            self._known.add(uid)
        built = {r["uid"]: r["shape"] for r in await self.pool.fetch(
            "SELECT uid, shape FROM engine_indexes WHERE engine = $1", ENGINE)}
        needed: list[Key] = []
        for doc_type in DOC_TYPES:
            table = gateway.TABLES[doc_type][0]
            for row in await self.pool.fetch(
                    f"SELECT t.id FROM tenants t WHERE EXISTS "
                    f"(SELECT 1 FROM {table} i WHERE i.tenant_id = t.id) ORDER BY t.id"):
                key: Key = (row["id"], doc_type)
                uid = index_uid(self.config.prefix, *key)
                if uid not in existing or built.get(uid) != SHAPE_VERSION:
                    needed.append(key)
        return needed

    async def outdated(self) -> list[Key]:
        """Indexes marked for a rebuild (`reindex --engine meilisearch`) or built with an
        older document shape, not being rebuilt now."""
        rows = await self.pool.fetch(
            "SELECT uid, tenant_id, doc_type FROM engine_indexes WHERE engine = $1 "
            "AND shape <> $2 ORDER BY tenant_id, doc_type", ENGINE, SHAPE_VERSION)
        keys: list[Key] = [(r["tenant_id"], r["doc_type"]) for r in rows
                           if r["uid"] == index_uid(self.config.prefix, r["tenant_id"],
                                                    r["doc_type"])]  # this deployment's
        return [key for key in keys if key not in self._rebuilding]

    async def _our_indexes(self) -> dict[str, Key]:
        out: dict[str, Key] = {}
        offset = 0
        while True:
            page = await self.client.get_indexes(offset=offset, limit=200) or []
            for index in page:
                parsed = parse_uid(self.config.prefix, index.uid)
                if parsed is not None:
                    out[index.uid] = parsed
            if len(page) < 200:
                return out
            offset += len(page)

    async def _sync_settings(self, uid: str, doc_type: DocType) -> None:
        desired = index_settings(doc_type, self.config.currencies)
        current = (await self.client.index(uid).get_settings()).model_dump(by_alias=True)
        drift = settings_drift(current, desired)
        if drift:
            log.info("updating the settings of %s: %s", uid, sorted(drift),
                     extra={"action": "meili_settings"})
            await self._task(self.client.index(uid).update_settings(
                MeilisearchSettings.model_validate(drift)), "settings")

    async def _task(self, pending: Any, kind: str) -> None:
        await meili.wait(self.client, await pending, kind, self.config.task_timeout_ms)

    async def _create(self, uid: str, doc_type: DocType) -> None:
        await self.client.create_index(uid, "id", timeout_in_ms=self.config.task_timeout_ms)
        await self._sync_settings(uid, doc_type)

    async def _ensure(self, key: Key) -> str:
        """The live index of (tenant, doc type), created with its settings on first use."""
        uid = index_uid(self.config.prefix, *key)
        if uid in self._known:
            return uid
        if await self.client.get_raw_index(uid) is None:
            await self._create(uid, key[1])
            await self._record(key, uid)
        self._known.add(uid)
        return uid

    async def _record(self, key: Key, uid: str) -> None:
        await self.pool.execute(
            """INSERT INTO engine_indexes (engine, uid, tenant_id, doc_type, shape)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (engine, uid) DO UPDATE SET shape = EXCLUDED.shape,
                   built_at = now()""", ENGINE, uid, key[0], key[1], SHAPE_VERSION)

    # ---- the engine part of the skeleton --------------------------------------------------
    def key(self, entry: QueueEntry) -> Key:
        return (entry.tenant_id, entry.doc_type)

    def document(self, doc_type: DocType, row: Mapping[str, Any]) -> dict[str, Any]:
        return meili_document(doc_type, row, self.config.currencies)

    async def target(self, key: Key) -> str:
        return await self._ensure(key)

    async def write(self, target: str, doc_type: DocType, docs: Docs) -> Refused:
        """Send `docs` to the index `target`; the ids that still failed alone, with their
        task's error (halving a failed batch until the culprit is alone)."""
        gone = [doc_id for doc_id, doc in docs if doc is None]
        failed: Refused = {}
        if gone:
            try:
                await self._task(self.client.index(target).delete_documents(
                    [str(i) for i in gone]), "delete")
                self.stats.deletes += len(gone)
            except meili.TaskFailed as exc:
                failed.update((doc_id, exc.message) for doc_id in gone)
        failed.update(await self.load(target, doc_type,
                                      [(i, doc) for i, doc in docs if doc is not None]))
        return failed

    async def load(self, target: str, doc_type: DocType, docs: Docs) -> Refused:
        if not docs:
            return {}
        try:
            await self._task(self.client.index(target).add_documents(
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
    async def rebuild(self, tenant_id: uuid.UUID, doc_type: DocType) -> int:
        """Build a tenant's index anew in `{uid}__next` and swap it in; returns the number
        of documents loaded. Searches keep using the old index until the swap."""
        key: Key = (tenant_id, doc_type)
        live = index_uid(self.config.prefix, tenant_id, doc_type)
        temp = live + NEXT
        async with self._rebuild_of(key):
            await self._drop(temp)  # what a crashed rebuild left
            await self._create(temp, doc_type)
            loaded = await self._load(temp, doc_type, gateway.stream_rows(
                self.pool, doc_type, self.config.batch, tenant_id))

            async def swap() -> None:
                await self._ensure(key)
                await self._task(self.client.swap_indexes([(live, temp)]), "swap")
                await self._record(key, live)

            changed = await self._switch(key, temp, doc_type, swap)
        await self._drop(temp)  # now the old generation
        log.info("rebuilt %s: %d documents, %d changed meanwhile", live, loaded, changed,
                 extra={"action": "meili_rebuild", "entity": doc_type,
                        "tenant": str(tenant_id)})
        return loaded

    async def _drop(self, uid: str) -> None:
        if await self.client.get_raw_index(uid) is not None:
            await self._task(self.client.index(uid).delete(), "delete_index")

    async def count_documents(self) -> dict[str, int]:
        """Documents per live index of this deployment (for the gauge), from one request
        for the whole server rather than one per index."""
        stats = await self.client.get_all_stats()
        return {uid: index.number_of_documents
                for uid, index in sorted((stats.indexes or {}).items())
                if parse_uid(self.config.prefix, uid) is not None}


async def request_rebuild(pool: asyncpg.Pool, prefix: str, tenant_id: uuid.UUID | None,
                          doc_type: DocType | None) -> int:
    """Mark the indexes of a scope (every tenant with documents, or one; both types, or one)
    for a rebuild behind an index swap; the elected follower picks them up. Returns how many
    were marked."""
    marks: list[tuple[str, str, uuid.UUID, DocType]] = []
    for kind in (doc_type,) if doc_type else DOC_TYPES:
        table = gateway.TABLES[kind][0]
        marks += [(ENGINE, index_uid(prefix, r["id"], kind), r["id"], kind)
                  for r in await pool.fetch(
                      f"SELECT t.id FROM tenants t WHERE ($1::uuid IS NULL OR t.id = $1) "
                      f"AND EXISTS (SELECT 1 FROM {table} i WHERE i.tenant_id = t.id)",
                      tenant_id)]
    await pool.executemany(
        """INSERT INTO engine_indexes (engine, uid, tenant_id, doc_type, shape)
           VALUES ($1, $2, $3, $4, 0)
           ON CONFLICT (engine, uid) DO UPDATE SET shape = 0""", marks)
    return len(marks)
