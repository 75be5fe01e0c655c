"""Rebuilding a tenant's Meilisearch index behind an index swap, and moving a tenant to another
instance (a rebuild of both its indexes there): the part of `MeiliFollower` built on the
skeleton's rebuild handshake (I/O: PostgreSQL, Meilisearch).

Why it is built this way:
- A rebuild fills `{uid}__next` from the index table while the live index keeps serving and
  following the queue, then swaps the two indexes and deletes the old one.
- A move is a rebuild of both of a tenant's indexes on the target instance: the live copy
  keeps serving and following the queue on the old instance while `__next` fills on the
  target; then, with the follower paused, the documents changed meanwhile are written to
  the target, the indexes are swapped in there and the placement flips in one UPDATE. The
  old copy is deleted once every reader has heard of the flip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Mapping

from meilisearch_python_sdk.models.task import TaskInfo

from core_write.errors import MeiliUnavailable
from indexer import index_rows
from indexer.follower import Docs, EngineFollower, Refused, Rows
from indexer.meili import client as meili
from indexer.meili.config import DOC_TYPES, NEXT, MeiliConfig, index_uid
from indexer.meili.indexes import Key, MeiliIndexes
from indexer.meili.payload import payload_parts
from indexer.meili.placement import Placement, Placements
from indexer.meili.servers import Server, Target
from indexer.model import SPECS, DocType

log = logging.getLogger(__name__)


REBUILD_TASKS_AHEAD = 4
"""Document tasks a rebuild enqueues before it waits for the oldest (at most this many pages
of `MEILISEARCH_BATCH_SIZE` documents, each under `MAX_PAYLOAD_BYTES`, wait in the server's
queue)."""


class MeiliRebuilds(EngineFollower[Key, Target]):
    """The rebuilds and moves of the Meilisearch follower (`MeiliFollower` sets the
    attributes below)."""

    config: MeiliConfig
    servers: dict[str, Server]
    indexes: MeiliIndexes
    placements: Placements

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
