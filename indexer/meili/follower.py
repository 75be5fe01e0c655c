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
- Several servers (`MEILISEARCH_INSTANCES`): each tenant's indexes live on the instance its
  placement names (`placement`; placed on its first write). An instance that cannot be
  reached is left alone for a moment: its tenants' rows stay queued (`Deferred`) while the
  other instances' tenants are written.
- A move is a rebuild of both of a tenant's indexes on the target instance: the live copy
  keeps serving and following the queue on the old instance while `__next` fills on the
  target; then, with the follower paused, the documents changed meanwhile are written to
  the target, the indexes are swapped in there and the placement flips in one UPDATE. The
  old copy is deleted once every reader has heard of the flip.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.errors import (
    MeilisearchCommunicationError,
    MeilisearchTimeoutError,
)
from meilisearch_python_sdk.models.task import TaskInfo

from core_write.errors import MeiliUnavailable
from indexer import index_rows, metrics
from indexer.engine_queue import QueueEntry
from indexer.follower import Deferred, Docs, EngineFollower, Refused, Rows, Window
from indexer.meili import client as meili
from indexer.meili.config import (
    DOC_TYPES,
    ENGINE,
    NEXT,
    MeiliConfig,
    index_uid,
    relevance_live_key,
)
from indexer.meili.indexes import Key, MeiliIndexes
from indexer.meili.placement import Placement, Placements
from indexer.model import SPECS, DocType
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


DOWN_SECONDS = (0.5, 10.0)
"""After a failed request an instance is left alone for the first delay, doubling up to the
second while it stays unreachable."""
GATHER_ROWS = 10
"""With rows deferred, a drain reads on past them up to this many batches (the other
instances' tenants are not held back by a down instance's backlog)."""


RELEVANCE_CHECK_SECONDS = 1.0
"""How often the follower looks for changed relevance settings (a change is live on
Meilisearch within this, plus its settings task)."""


@dataclass(eq=False)
class Server:
    """One instance as the follower writes it."""

    name: str
    config: MeiliConfig
    client: AsyncClient
    indexes: MeiliIndexes
    owned: bool = False
    """The follower opened the client (and closes it)."""
    down_until: float = 0.0
    down_for: float = field(default=DOWN_SECONDS[0])

    def up(self) -> None:
        if self.down_until:
            log.info("meilisearch instance %s answers again", self.name,
                     extra={"action": "meili_instance_up"})
        self.down_until = 0.0
        self.down_for = DOWN_SECONDS[0]
        metrics.MEILI_INSTANCE_UP.labels(self.name).set(1)

    def down(self, error: BaseException) -> None:
        if not self.down_until:
            log.error("meilisearch instance %s (%s) cannot be reached: %s; its tenants' "
                      "changes stay queued", self.name, self.config.url, error,
                      extra={"action": "meili_instance_down"})
        else:
            self.down_for = min(self.down_for * 2, DOWN_SECONDS[1])
        self.down_until = time.monotonic() + self.down_for
        metrics.MEILI_INSTANCE_UP.labels(self.name).set(0)


@dataclass(frozen=True)
class Target:
    """An index on one instance."""

    server: Server
    uid: str


OUTAGE = (MeilisearchCommunicationError, MeilisearchTimeoutError, MeiliUnavailable, OSError,
          asyncio.TimeoutError)


class MeiliFollower(EngineFollower[Key, Target]):
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
        self.servers: dict[str, Server] = {}
        for number, instance in enumerate(config.servers):
            own = config.on(instance.name)
            server_client = client if number == 0 else meili.open_client(own)
            self.servers[instance.name] = Server(
                instance.name, own, server_client,
                MeiliIndexes(pool, server_client, own, instance.name), owned=number > 0)
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

    async def _drop_leftovers(self, name: str, existing: dict[str, Key],
                              where: Mapping[uuid.UUID, Placement]) -> None:
        """Delete the copies on `name` of tenants served by another configured instance and
        not being moved here (what a move left when the old instance was down); a tenant
        placed on an instance that is not configured keeps every copy."""
        for uid, (tenant_id, _doc_type) in sorted(existing.items()):
            placement = where.get(tenant_id)
            if placement is None or placement.instance == name \
                    or placement.instance not in self.servers or placement.target == name:
                continue
            log.warning("deleting %s on %s: the tenant is served from %s", uid, name,
                        placement.instance, extra={"action": "meili_move_leftover",
                                                   "tenant": str(tenant_id)})
            await self.servers[name].indexes.drop(uid)
            del existing[uid]

    async def outdated(self) -> list[Key]:
        """Indexes marked for a rebuild or built with an older document shape, not being
        rebuilt now."""
        return [key for key in await self.indexes.outdated() if not self.rebuilding(key)]

    async def moves(self) -> list[Placement]:
        """The moves operators requested, oldest first."""
        return await self.placements.moving()

    def server(self, name: str) -> Server:
        found = self.servers.get(name)
        if found is None:
            raise MeiliUnavailable(f"no Meilisearch instance named {name!r} is configured "
                                   f"(MEILISEARCH_INSTANCES names {', '.join(self.servers)})")
        return found

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

    # ---- rebuild --------------------------------------------------------------------------
    async def load_pages(self, target: Target, doc_type: DocType, pages: AsyncIterable[Docs]
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
                await meili.wait(target.server.client, task, "documents",
                                 self.config.task_timeout_ms)
            except meili.TaskFailed:
                return docs, await self.load(target, doc_type, docs)
            self.stats.docs_applied += len(docs)
            return docs, {}

        async for page in pages:
            for docs in payload_parts(page) if page else []:
                task = await target.server.client.index(target.uid).add_documents(
                    [doc for _, doc in docs if doc is not None], primary_key="id")
                ahead.append((docs, task))
                if len(ahead) > REBUILD_TASKS_AHEAD:
                    yield await settle()
        while ahead:
            yield await settle()

    async def rebuild(self, tenant_id: uuid.UUID, doc_type: DocType) -> int:
        """Build a tenant's index anew in `{uid}__next` on its instance and swap it in;
        returns the number of documents loaded. Searches keep using the old index until the
        swap."""
        key: Key = (tenant_id, doc_type)
        server = self.server((await self.placements.place(tenant_id)).instance)
        live = index_uid(self.config.prefix, tenant_id, doc_type)
        temp = Target(server, live + NEXT)
        async with self._rebuild_of(key):
            loaded = await self._fill(temp, doc_type, index_rows.stream_rows(
                self.pool, doc_type, self.config.batch, tenant_id))

            async def swap() -> None:
                await server.indexes.ensure(key)
                await server.indexes.task(server.client.swap_indexes([(live, temp.uid)]),
                                          "swap")
                await server.indexes.record(key, live)

            changed = await self._switch(key, temp, doc_type, swap)
        await server.indexes.drop(temp.uid)  # now the old generation
        log.info("rebuilt %s on %s: %d documents, %d changed meanwhile", live, server.name,
                 loaded, changed, extra={"action": "meili_rebuild", "entity": doc_type,
                                         "tenant": str(tenant_id)})
        return loaded

    async def _fill(self, temp: Target, doc_type: DocType, pages: AsyncIterable[Rows]) -> int:
        """A new `temp` index (what a crashed build left is dropped first) loaded with the
        documents of `pages`."""
        await temp.server.indexes.drop(temp.uid)
        await temp.server.indexes.create(temp.uid, doc_type)
        return await self._load(temp, doc_type, pages)

    # ---- moving a tenant to another instance ----------------------------------------------
    async def move(self, placement: Placement, *, grace: float | None = None) -> int:
        """Run a requested move (`placement.state == 'moving'`): build the tenant's indexes on
        the target from the index tables while the source keeps serving and following the
        queue, write the documents changed meanwhile, swap them in on the target and flip
        the placement; then, after `grace` seconds (default: the placement TTL plus a
        second, so every reader has left the source), delete the source's copy. Returns the
        documents loaded; a failure leaves the tenant where it was, with the error recorded
        for `engines list`."""
        tenant_id, source, target = placement.tenant_id, placement.instance, placement.target
        assert target is not None
        started = time.monotonic()
        temps: list[tuple[Key, Target, DocType]] = []
        try:
            dst = self.server(target)
            totals = {doc_type: int(await self.pool.fetchval(
                f"SELECT count(*) FROM {SPECS[doc_type].table} WHERE tenant_id = $1",
                tenant_id)) for doc_type in DOC_TYPES}
            await self.placements.progress(tenant_id, 0, sum(totals.values()))
            log.info("moving tenant %s from %s to %s: %d documents", tenant_id, source, target,
                     sum(totals.values()), extra={"action": "meili_move_start",
                                                  "tenant": str(tenant_id)})
            loaded = 0
            async with contextlib.AsyncExitStack() as stack:
                for doc_type in DOC_TYPES:
                    await stack.enter_async_context(self._rebuild_of((tenant_id, doc_type)))
                for doc_type in DOC_TYPES:
                    key: Key = (tenant_id, doc_type)
                    temp = Target(dst, index_uid(self.config.prefix, tenant_id, doc_type) + NEXT)
                    temps.append((key, temp, doc_type))
                    loaded += await self._fill(temp, doc_type, self._counted(
                        tenant_id, loaded, index_rows.stream_rows(
                            self.pool, doc_type, self.config.batch, tenant_id)))
                await self.placements.progress(tenant_id, loaded)

                async def flip() -> None:
                    pairs = []
                    for key, temp, _doc_type in temps:
                        await dst.indexes.ensure(key)
                        pairs.append((index_uid(self.config.prefix, *key), temp.uid))
                    await dst.indexes.task(dst.client.swap_indexes(pairs), "swap")
                    for key, _temp, _doc_type in temps:
                        await dst.indexes.record(key, index_uid(self.config.prefix, *key))
                    if not await self.placements.flip(tenant_id, source, target):
                        raise RuntimeError("the placement changed during the move")

                changed = await self._switch_all(temps, flip)
        except asyncio.CancelledError:
            raise  # a stopping writer: the move stays filed and the next writer runs it again
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await self.placements.fail(tenant_id, f"{type(exc).__name__}: {exc}")
            for _key, temp, _doc_type in temps:
                with contextlib.suppress(Exception):
                    await temp.server.indexes.drop(temp.uid)
            log.error("moving tenant %s from %s to %s failed: %s", tenant_id, source, target,
                      exc, extra={"action": "meili_move_failed", "tenant": str(tenant_id)})
            raise
        flipped = time.monotonic()
        for _key, temp, _doc_type in temps:
            await dst.indexes.drop(temp.uid)  # what the target held before, if anything
        await asyncio.sleep(self.config.placement_ttl_ms / 1000 + 1 if grace is None else grace)
        await self._delete_copy(tenant_id, source)
        log.info("moved tenant %s from %s to %s: %d documents, %d changed meanwhile; build "
                 "%.1f s", tenant_id, source, target, loaded, changed, flipped - started,
                 extra={"action": "meili_move", "tenant": str(tenant_id)})
        return loaded

    async def _counted(self, tenant_id: uuid.UUID, before: int, pages: AsyncIterable[Rows]
                       ) -> AsyncIterator[Rows]:
        """`pages`, recording the documents read so far as the move's progress."""
        done = before
        async for rows in pages:
            yield rows
            done += len(rows)
            await self.placements.progress(tenant_id, done)

    async def _delete_copy(self, tenant_id: uuid.UUID, name: str) -> None:
        """Delete the tenant's indexes on an instance it left (logged when it cannot be
        reached: the copy stays, unused, until the next start of an engine writer)."""
        server = self.servers.get(name)
        if server is None:
            return
        for doc_type in DOC_TYPES:
            uid = index_uid(self.config.prefix, tenant_id, doc_type)
            try:
                await server.indexes.drop(uid)
            except Exception as exc:
                log.warning("the old copy %s on %s was not deleted (%s); the engine writer "
                            "deletes it at its next start", uid, name, exc,
                            extra={"action": "meili_move_leftover", "tenant": str(tenant_id)})
