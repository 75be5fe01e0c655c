"""The Meilisearch follower: the one writer that applies `engine_queue` rows to the tenants'
indexes, and rebuilds an index behind an index swap (I/O: PostgreSQL, Redis, Meilisearch).

Why it is built this way:
- Documents are rebuilt from the current index row, never from the queue row (an absent row
  is a deleted document), so applying a change twice is harmless.
- Each drain reads the oldest queue rows, sends one documents task and one delete task per
  index, waits for them, and only then deletes the queue rows it applied (unless re-queued
  since: the seq must still match). Meilisearch runs an index's tasks in enqueue order and
  the next drain starts after these finished, so changes land in queue order.
- A failed task is split in halves until the failing document is alone; that document is
  retried on the following drains with exponential backoff and dead-lettered (a Redis stream,
  with the task's error) after `max_attempts`, so one bad document never blocks the queue.
- An index is created (with its settings) on first use; settings are compared with the code's
  at start-up and updated when they drift.
- A rebuild fills `{uid}__next` from the index table while the live index keeps serving and
  following the queue; with the follower paused it re-applies the documents changed
  meanwhile, swaps the two indexes and deletes the old one.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.models.settings import MeilisearchSettings
from redis.exceptions import RedisError

from core_write.errors import RustokError, ValidationFailed
from indexer import metrics
from indexer.meili import client as meili
from indexer.meili.config import DOC_TYPES, ENGINE, NEXT, MeiliConfig, index_uid, parse_uid
from indexer.meili.documents import SHAPE_VERSION, index_settings, meili_document, settings_drift
from indexer.tantivy import gateway
from indexer.tantivy.config import DocType
from indexer.tantivy.gateway import QueueEntry

log = logging.getLogger(__name__)

_MAX_BACKOFF = 5.0
Key = tuple[uuid.UUID, DocType]


class RebuildRunning(RustokError):
    """A rebuild of this index is already running."""


@dataclass
class FollowerStats:
    drains: int = 0
    documents: int = 0
    deletes: int = 0
    failed_tasks: int = 0
    dead_lettered: int = 0
    rebuilds: int = 0
    errors: int = 0


@dataclass
class _Group:
    """The queue rows of one index in one drain."""

    key: Key
    entries: list[QueueEntry] = field(default_factory=list)


class MeiliFollower:
    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis, client: AsyncClient,
                 config: MeiliConfig, stream_prefix: str) -> None:
        self.pool = pool
        self.redis = redis
        self.client = client
        self.config = config
        self.dlq = f"{stream_prefix}:engine-dlq"
        self.stats = FollowerStats()
        self._known: set[str] = set()
        self._lock = asyncio.Lock()
        self._touched: dict[Key, set[uuid.UUID]] = {}
        self._rebuilding: set[Key] = set()
        self._attempts: dict[uuid.UUID, int] = {}
        self._failing = False

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

    # ---- the loop -------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Drain the queue until `stop`; errors and failing documents back off."""
        backoff = 0.1
        log.info("meilisearch follower started", extra={"action": "meili_follower_start"})
        while not stop.is_set():
            try:
                applied = await self.drain_once()
            except Exception as exc:
                self.stats.errors += 1
                log.warning("meilisearch drain failed (%s); retrying in %.1fs", exc, backoff,
                            extra={"action": "meili_drain_error"})
                await _wait(stop, backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                continue
            if self._failing:
                await _wait(stop, backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
            else:
                backoff = 0.1
                if applied == 0:
                    await _wait(stop, self.config.poll_interval)
        log.info("meilisearch follower stopped", extra={"action": "meili_follower_stop"})

    async def drain_once(self) -> int:
        """Apply the oldest queue rows; returns how many were applied (or dead-lettered)."""
        async with self._lock:
            entries = await gateway.read_queue(self.pool, ENGINE, 0, self.config.batch)
            if not entries:
                self._failing = False
                return 0
            groups: dict[Key, _Group] = {}
            for entry in entries:
                if entry.tenant_id is None:
                    continue
                key: Key = (entry.tenant_id, entry.doc_type)
                groups.setdefault(key, _Group(key)).entries.append(entry)
            done: list[QueueEntry] = []
            self._failing = False
            for group in groups.values():
                done += await self._apply_group(group)
            await gateway.delete_applied(self.pool, ENGINE, done)
            self.stats.drains += 1
            if done:
                oldest = min(entry.event_time for entry in done)
                metrics.LAG_SECONDS.labels(backend="meilisearch").observe(
                    max(0.0, time.time() - oldest.timestamp()))
            return len(done)

    async def _apply_group(self, group: _Group) -> list[QueueEntry]:
        tenant_id, doc_type = group.key
        uid = await self._ensure(group.key)
        ids = list(dict.fromkeys(entry.doc_id for entry in group.entries))
        recording = self._touched.get(group.key)
        if recording is not None:
            recording.update(ids)
        failed = await self._write(uid, doc_type, ids)
        done = []
        for entry in group.entries:
            if entry.doc_id not in failed:
                self._attempts.pop(entry.doc_id, None)
                done.append(entry)
                continue
            attempts = self._attempts.get(entry.doc_id, 0) + 1
            self._attempts[entry.doc_id] = attempts
            if attempts >= self.config.max_attempts:
                await self._dead_letter(entry, tenant_id, failed[entry.doc_id])
                self._attempts.pop(entry.doc_id, None)
                done.append(entry)
            else:
                self._failing = True
        return done

    async def _write(self, uid: str, doc_type: DocType,
                     ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        """Send the current documents of `ids` to `uid`; the ids that still failed alone,
        with their task's error (halving a failed batch until the culprit is alone)."""
        rows = await gateway.fetch_rows(self.pool, doc_type, ids)
        docs: list[tuple[uuid.UUID, dict[str, Any]]] = []
        gone: list[uuid.UUID] = []
        for doc_id in ids:
            row = rows.get(doc_id)
            if row is None:
                gone.append(doc_id)
                continue
            doc = self._document(doc_type, row)
            if doc is not None:
                docs.append((doc_id, doc))
        failed: dict[uuid.UUID, str] = {}
        if gone:
            try:
                await self._task(self.client.index(uid).delete_documents(
                    [str(i) for i in gone]), "delete")
                self.stats.deletes += len(gone)
            except meili.TaskFailed as exc:
                failed.update((doc_id, exc.message) for doc_id in gone)
        failed.update(await self._add(uid, docs))
        return failed

    async def _add(self, uid: str, docs: Sequence[tuple[uuid.UUID, dict[str, Any]]]
                   ) -> dict[uuid.UUID, str]:
        if not docs:
            return {}
        try:
            await self._task(self.client.index(uid).add_documents(
                [doc for _, doc in docs], primary_key="id"), "documents")
        except meili.TaskFailed as exc:
            self.stats.failed_tasks += 1
            if len(docs) == 1:
                return {docs[0][0]: exc.message}
            half = len(docs) // 2
            return {**await self._add(uid, docs[:half]), **await self._add(uid, docs[half:])}
        self.stats.documents += len(docs)
        return {}

    def _document(self, doc_type: DocType, row: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            return meili_document(doc_type, row, self.config.currencies)
        except (ValidationFailed, KeyError, TypeError, ValueError) as exc:
            # a malformed row must not block the queue (verify reports the drift)
            log.error("cannot build the %s document: %s", doc_type, exc,
                      extra={"action": "meili_bad_row", "entity": doc_type,
                             "tenant": str(row.get("tenant_id"))})
            return None

    async def _dead_letter(self, entry: QueueEntry, tenant_id: uuid.UUID, error: str) -> None:
        self.stats.dead_lettered += 1
        metrics.MEILI_DEAD_LETTERS.inc()
        log.error("giving up on %s %s after %d failed meilisearch tasks: %s", entry.doc_type,
                  entry.doc_id, self.config.max_attempts, error,
                  extra={"action": "meili_dead_letter", "entity": entry.doc_type,
                         "tenant": str(tenant_id)})
        try:
            await self.redis.xadd(self.dlq, {
                "engine": ENGINE, "doc_type": entry.doc_type, "doc_id": str(entry.doc_id),
                "tenant_id": str(tenant_id), "seq": str(entry.seq), "error": error[:2000]})
        except (RedisError, OSError) as exc:
            log.warning("could not record the dead letter: %s", exc)

    # ---- rebuild --------------------------------------------------------------------------
    async def rebuild(self, tenant_id: uuid.UUID, doc_type: DocType) -> int:
        """Build a tenant's index anew in `{uid}__next` and swap it in; returns the number
        of documents loaded. Searches keep using the old index until the swap."""
        key: Key = (tenant_id, doc_type)
        if key in self._rebuilding:
            raise RebuildRunning(f"a rebuild of {doc_type} for tenant {tenant_id} is running")
        self._rebuilding.add(key)
        self._touched[key] = set()
        try:
            return await self._rebuild(key)
        finally:
            self._touched.pop(key, None)
            self._rebuilding.discard(key)

    async def _rebuild(self, key: Key) -> int:
        tenant_id, doc_type = key
        live = index_uid(self.config.prefix, tenant_id, doc_type)
        temp = live + NEXT
        await self._drop(temp)  # what a crashed rebuild left
        await self._create(temp, doc_type)
        loaded = 0
        async for rows in gateway.stream_rows(self.pool, doc_type, self.config.batch,
                                              tenant_id):
            docs = [(row[gateway.TABLES[doc_type][1]], doc) for row in rows
                    if (doc := self._document(doc_type, row)) is not None]
            failed = await self._add(temp, docs)
            for doc_id, error in failed.items():
                log.error("rebuild of %s: document %s refused: %s", live, doc_id, error,
                          extra={"action": "meili_rebuild_refused"})
            loaded += len(docs) - len(failed)
        async with self._lock:
            touched = sorted(self._touched.pop(key))
            for start in range(0, len(touched), self.config.batch):
                await self._write(temp, doc_type, touched[start:start + self.config.batch])
            await self._ensure(key)
            await self._task(self.client.swap_indexes([(live, temp)]), "swap")
            await self._record(key, live)
        await self._drop(temp)  # now the old generation
        self.stats.rebuilds += 1
        log.info("rebuilt %s: %d documents, %d changed meanwhile", live, loaded, len(touched),
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


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


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
