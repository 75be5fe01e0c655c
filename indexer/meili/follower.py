"""The Meilisearch follower: the one writer of the tenants' indexes, on the engine follower
skeleton (`indexer.follower`), with the rebuilds and moves of `rebuilds` (I/O: PostgreSQL,
Redis, Meilisearch).

Why it is built this way:
- Each drain reads the oldest queue rows, sends one documents task and one delete task per
  index and waits for them, so the queue rows are deleted only once Meilisearch applied them.
  Meilisearch runs an index's tasks in enqueue order and the next drain starts after these
  finished, so changes land in queue order.
- A failed task is split in halves until the refused document is alone; the skeleton retries
  it and dead-letters it after `max_attempts`.
- An index is created (with its settings) on first use (`indexes.MeiliIndexes`).
- Several servers (`MEILISEARCH_INSTANCES`, `servers`): each tenant's indexes live on the
  instance its placement names (`placement`; placed on its first write). An instance that
  cannot be reached is left alone for a moment: its tenants' rows stay queued (`Deferred`)
  while the other instances' tenants are written.
- A rebuild fills a new index behind an index swap; a move is a rebuild on another
  instance (`rebuilds`).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from meilisearch_python_sdk import AsyncClient

from core_write.errors import MeiliUnavailable
from indexer.engine_queue import QueueEntry
from indexer.follower import Deferred, Docs, Refused, Window
from indexer.meili import client as meili
from indexer.meili.config import (
    DOC_TYPES,
    ENGINE,
    MeiliConfig,
    relevance_live_key,
)
from indexer.meili.indexes import Key
from indexer.meili.payload import payload_parts
from indexer.meili.placement import Placement, Placements
from indexer.meili.rebuilds import MeiliRebuilds
from indexer.meili.servers import OUTAGE, Target, open_servers
from indexer.model import SPECS, DocType
from indexer.model.engines import meili_document

log = logging.getLogger(__name__)


GATHER_ROWS = 10
"""With rows deferred, a drain reads on past them up to this many batches (the other
instances' tenants are not held back by a down instance's backlog)."""


RELEVANCE_CHECK_SECONDS = 1.0
"""How often the follower looks for changed relevance settings (a change is live on
Meilisearch within this, plus its settings task)."""


class MeiliFollower(MeiliRebuilds):
    engine = ENGINE
    label = "meili"

    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis, client: AsyncClient,
                 config: MeiliConfig, stream_prefix: str, dsn: str | None = None) -> None:
        """`client` talks to the first instance of `config` (the only one without
        `MEILISEARCH_INSTANCES`); the follower opens clients for the others. With `dsn`,
        `run` is woken by a NOTIFY when changes are queued."""
        super().__init__(pool, redis, stream_prefix, batch=config.batch,
                         poll_interval=config.poll_interval, max_attempts=config.max_attempts,
                         dsn=dsn)
        self.client = client
        self.config = config
        self.servers = open_servers(pool, client, config)
        self.indexes = next(iter(self.servers.values())).indexes
        """The first instance's indexes (the only one's without MEILISEARCH_INSTANCES)."""
        self.placements = Placements(pool, redis, stream_prefix, config)
        self.stream_prefix = stream_prefix
        self._relevance_due = 0.0

    async def prepare(self) -> None:
        """Before each drain: at most every `RELEVANCE_CHECK_SECONDS`, bring the indexes of
        tenants whose relevance settings changed in line on every instance that answers,
        and record the version each instance now serves (`relevance_live_key`)."""
        now = time.monotonic()
        if now < self._relevance_due:
            return
        self._relevance_due = now + RELEVANCE_CHECK_SECONDS
        for server in self.servers.values():
            if server.down_until > now:
                continue
            try:
                done = await server.indexes.refresh_relevance()
            except OUTAGE as exc:
                server.down(exc)
                continue
            for tenant_id, version in done:
                log.info("relevance settings v%d of tenant %s live on %s", version, tenant_id,
                         server.name, extra={"action": "meili_relevance_live",
                                             "tenant": str(tenant_id)})
                await self.redis.set(relevance_live_key(self.stream_prefix, tenant_id),
                                     version)

    async def close(self) -> None:
        for server in self.servers.values():
            if server.owned:
                with contextlib.suppress(Exception):
                    await server.client.aclose()

    async def start(self) -> list[Key]:
        """Open every instance (an unreachable one is logged and left for later unless none
        answers: then `MeiliUnavailable`), place the tenants found on an instance that have
        no placement yet (an upgrade from one server: all of them) and the tenants with
        documents but no index anywhere, and return the indexes to (re)build on their
        instances."""
        found: dict[str, dict[str, Key]] = {}
        errors: list[MeiliUnavailable] = []
        for server in self.servers.values():
            try:
                found[server.name] = await server.indexes.open()
                server.up()
            except MeiliUnavailable as exc:
                errors.append(exc)
                server.down(exc)
        if not found:
            raise errors[0]
        for name, existing in found.items():
            for tenant_id in sorted({key[0] for key in existing.values()}):
                await self.placements.place(tenant_id, name)
        for doc_type in DOC_TYPES:
            for row in await self.pool.fetch(
                    f"SELECT t.id FROM tenants t WHERE EXISTS (SELECT 1 FROM "
                    f"{SPECS[doc_type].table} i WHERE i.tenant_id = t.id) ORDER BY t.id"):
                await self.placements.place(row["id"])
        placed: dict[str, set[uuid.UUID]] = {}
        where: dict[uuid.UUID, Placement] = {}
        for placement in await self.placements.all():
            placed.setdefault(placement.instance, set()).add(placement.tenant_id)
            where[placement.tenant_id] = placement
        for name, existing in found.items():
            await self._drop_leftovers(name, existing, where)
        needed: list[Key] = []
        for name, existing in found.items():
            needed += await self.servers[name].indexes.needed(existing, placed.get(name, set()))
        return needed

    # ---- the engine part of the skeleton --------------------------------------------------
    def key(self, entry: QueueEntry) -> Key:
        return (entry.tenant_id, entry.doc_type)

    def document(self, doc_type: DocType, row: Mapping[str, Any]) -> dict[str, Any]:
        return meili_document(doc_type, row, self.config.currencies)

    async def target(self, key: Key) -> Target:
        placement = await self.placements.place(key[0])
        server = self.servers.get(placement.instance)
        if server is None:
            log.error("tenant %s is placed on %s, which is not configured; its changes stay "
                      "queued", key[0], placement.instance,
                      extra={"action": "meili_unknown_instance", "tenant": str(key[0])})
            raise Deferred(placement.instance)
        if server.down_until > time.monotonic():
            raise Deferred(server.name)
        try:
            return Target(server, await server.indexes.ensure(key))
        except OUTAGE as exc:
            server.down(exc)
            raise Deferred(server.name) from exc

    async def gather(self, window: Window[Key], got: bool) -> bool:
        """Read on past rows deferred for a down instance (bounded)."""
        return got and window.deferred > 0 and len(window.entries) < GATHER_ROWS * self.batch

    async def write(self, target: Target, doc_type: DocType, docs: Docs) -> Refused:
        """Send `docs` to the index `target`; the ids that still failed alone, with their
        task's error (halving a failed batch until the culprit is alone). An instance that
        cannot be reached defers them."""
        try:
            refused = await self._write(target, doc_type, docs)
        except OUTAGE as exc:
            target.server.down(exc)
            raise Deferred(target.server.name) from exc
        target.server.up()
        return refused

    async def _write(self, target: Target, doc_type: DocType, docs: Docs) -> Refused:
        gone = [doc_id for doc_id, doc in docs if doc is None]
        # the deletion is enqueued first and waited for last: the server runs an index's
        # tasks in order (often in one batch), so the wait costs nothing more
        deletion = await target.server.client.index(target.uid).delete_documents(
            [str(i) for i in gone]) if gone else None
        failed = await self.load(target, doc_type,
                                 [(i, doc) for i, doc in docs if doc is not None])
        if deletion is not None:
            try:
                await meili.wait(target.server.client, deletion, "delete",
                                 self.config.task_timeout_ms)
                self.stats.deletes += len(gone)
            except meili.TaskFailed as exc:
                failed.update((doc_id, exc.message) for doc_id in gone)
        return failed

    async def load(self, target: Target, doc_type: DocType, docs: Docs) -> Refused:
        if not docs:
            return {}
        parts = payload_parts(docs)
        if len(parts) > 1:
            refused: Refused = {}
            for part in parts:
                refused.update(await self.load(target, doc_type, part))
            return refused
        try:
            await target.server.indexes.task(target.server.client.index(target.uid).add_documents(
                [doc for _, doc in docs if doc is not None], primary_key="id"), "documents")
        except meili.TaskFailed as exc:
            if len(docs) == 1:
                return {docs[0][0]: exc.message}
            half = len(docs) // 2
            return {**await self.load(target, doc_type, docs[:half]),
                    **await self.load(target, doc_type, docs[half:])}
        self.stats.docs_applied += len(docs)
        return {}
