"""Wiring of the Meilisearch engine into the indexer daemon and `verify`: the follower body
run by the process elected engine writer, and the id/version reader verify compares
(I/O: through the follower and the client)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import asyncpg
from meilisearch_python_sdk import AsyncClient

from core_write.backoff import pause
from core_write.resources import Resources
from core_write.settings import Settings
from indexer import metrics
from indexer.digest import Copy, content_digest
from indexer.meili import client as meili
from indexer.meili.config import DOC_TYPES, MeiliConfig, index_uid, meili_config
from indexer.meili.follower import MeiliFollower
from indexer.meili.indexes import Key, MeiliIndexes
from indexer.meili.placement import read_placement
from indexer.model import DocType
from indexer.model.engines import meili_document
from indexer.verify import SettingsDrift

log = logging.getLogger(__name__)

_RETRY = 5.0
_GAUGE_EVERY = 15.0
_REBUILD_CHECK = 5.0
_SETTINGS_ATTEMPTS = 3


async def run_meili_follower(res: Resources, stop: asyncio.Event) -> None:
    """Follow the queue until `stop`. An unreachable server or a wrong key is logged and
    retried (the Postgres index and the other engines keep working); indexes that need a
    build are rebuilt one after the other in the background."""
    config = meili_config(res.settings)
    async with meili.open_client(config) as client:
        follower = MeiliFollower(res.pool, res.redis, client, config,
                                 res.settings.stream_prefix, dsn=res.settings.database_url)
        needed: list[Key] | None = None
        while needed is None and not stop.is_set():
            try:
                needed = await follower.start()
            except meili.MeiliUnavailable as exc:
                log.error("%s; retrying in %.0f s", exc, _RETRY,
                          extra={"action": "meili_unavailable"})
                await pause(_RETRY, stop)
        if needed is None:
            return
        tasks = [asyncio.create_task(_rebuilds(follower, needed, stop), name="meili-rebuilds"),
                 asyncio.create_task(_gauges(follower, stop), name="meili-gauges")]
        try:
            await follower.run(stop)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await follower.close()


async def _rebuilds(follower: MeiliFollower, first: list[Key], stop: asyncio.Event) -> None:
    """Rebuild what start-up found missing or outdated, then, every `_REBUILD_CHECK`
    seconds, what an operator marked (`reindex --engine meilisearch`) and the tenants they
    asked to move (`engines move`); one at a time."""
    keys = first
    while not stop.is_set():
        for tenant_id, doc_type in keys:
            try:
                await follower.rebuild(tenant_id, doc_type)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # retried at the next check
                log.error("meilisearch rebuild of %s for %s failed: %s", doc_type, tenant_id,
                          exc, exc_info=exc, extra={"action": "meili_rebuild_failed"})
        try:
            for placement in await follower.moves():
                with contextlib.suppress(Exception):  # logged and recorded by the move
                    await follower.move(placement)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("cannot read the requested moves: %s", exc)
        await pause(_REBUILD_CHECK, stop)
        try:
            keys = await follower.outdated()
        except Exception as exc:
            log.warning("cannot read the indexes marked for a rebuild: %s", exc)
            keys = []


async def _gauges(follower: MeiliFollower, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            counts: dict[str, int] = {}
            for server in follower.servers.values():
                try:
                    mine = await server.indexes.count_documents()
                except Exception as exc:  # noqa: BLE001 - a down instance counts nothing
                    log.warning("meilisearch %s not counted: %s", server.name, exc)
                    continue
                metrics.MEILI_INSTANCE_DOCUMENTS.labels(server.name).set(sum(mine.values()))
                counts.update(mine)
            for name, tenants in (await follower.placements.tenants()).items():
                metrics.MEILI_INSTANCE_TENANTS.labels(name).set(tenants)
            for uid, count in counts.items():
                metrics.MEILI_DOCUMENTS.labels(uid).set(count)
            for doc_type, suffix in (("product", "_products"), ("content", "_content")):
                metrics.DOCUMENT_COUNT.labels("meilisearch", doc_type).set(
                    sum(n for uid, n in counts.items() if uid.endswith(suffix)))
        except Exception as exc:  # a gauge must never stop the follower
            log.warning("meilisearch gauges not refreshed: %s", exc)
        await pause(_GAUGE_EVERY, stop)


class MeiliIds:
    """Ids, versions and content digests of one tenant's documents in its live index on the
    instance it is placed on, and the drift of those indexes' settings (for verify)."""

    name = "meilisearch"

    def __init__(self, settings: Settings, pool: asyncpg.Pool | None = None) -> None:
        self.config: MeiliConfig = meili_config(settings)
        self.clients: dict[str, AsyncClient] = {
            server.name: meili.open_client(self.config.on(server.name))
            for server in self.config.servers}
        self.client: AsyncClient = next(iter(self.clients.values()))
        self.pool = pool
        self._on: dict[str, MeiliIndexes] = {}

    async def versions(self, doc_type: DocType, tenant_id: uuid.UUID) -> Mapping[str, int]:
        return {str(d["id"]): int(d["version"]) async for d in
                self._documents(doc_type, tenant_id, ["id", "version"])}

    async def copies(self, doc_type: DocType, tenant_id: uuid.UUID) -> Mapping[str, Copy]:
        return {str(d["id"]): (int(d["version"]), content_digest(d)) async for d in
                self._documents(doc_type, tenant_id, None)}

    async def _instance(self, tenant_id: uuid.UUID) -> str | None:
        """The instance holding the tenant's indexes (None: not placed, so none anywhere;
        without a pool, the first)."""
        first = next(iter(self.clients))
        if self.pool is None:
            return first
        placement = await read_placement(self.pool, tenant_id)
        if placement is None:
            return None if len(self.clients) > 1 else first
        return placement.instance if placement.instance in self.clients else first

    async def _documents(self, doc_type: DocType, tenant_id: uuid.UUID,
                         fields: list[str] | None) -> AsyncIterator[dict[str, Any]]:
        """Every document of the tenant's index (none when it does not exist), by pages."""
        instance = await self._instance(tenant_id)
        if instance is None:
            return
        index = self.clients[instance].index(index_uid(self.config.prefix, tenant_id, doc_type))
        offset, page = 0, 1000
        while True:
            try:
                batch = await index.get_documents(offset=offset, limit=page, fields=fields)
            except Exception as exc:
                if meili.is_not_found(exc):
                    return
                raise
            for doc in batch.results:
                yield doc
            if len(batch.results) < page:
                return
            offset += page

    def digest(self, doc_type: DocType, row: Mapping[str, Any]) -> str:
        """What the document of `row` digests to once sent as JSON and read back."""
        doc = meili_document(doc_type, row, self.config.currencies)
        return content_digest(json.loads(json.dumps(doc, default=str)))

    def _indexes(self, instance: str) -> MeiliIndexes:
        if self.pool is None:
            raise RuntimeError("checking index settings needs the database pool")
        found = self._on.get(instance)
        if found is None:
            found = self._on[instance] = MeiliIndexes(
                self.pool, self.clients[instance], self.config.on(instance), instance)
        return found

    async def settings_drift(self, tenant_id: uuid.UUID) -> list[SettingsDrift]:
        """Each of the tenant's indexes whose settings differ from what the code and the
        tenant's relevance settings compile to (the follower's `MeiliIndexes.drift`); a
        missing index is left to the document check."""
        instance = await self._instance(tenant_id)
        if instance is None:
            return []
        indexes = self._indexes(instance)
        found = []
        for doc_type in DOC_TYPES:
            uid = index_uid(self.config.prefix, tenant_id, doc_type)
            if await indexes.client.get_raw_index(uid) is None:
                continue
            _version, drift = await indexes.drift(uid, doc_type)
            if drift:
                found.append(SettingsDrift(self.name, tenant_id, doc_type,
                                           f"{instance}:{uid}", sorted(drift)))
        return found

    async def repair_settings(self, drift: SettingsDrift) -> list[str]:
        """Write the index's settings through the follower's path (`sync_settings`) and
        check again; again (at most `_SETTINGS_ATTEMPTS` times) when they still differ: a
        follower that wrote a newer version meanwhile may have been overwritten by this
        write, and the follower does not write a version twice."""
        instance, uid = drift.index.rsplit(":", 1)  # an index uid has no colon
        indexes = self._indexes(instance)
        left: dict[str, Any] = {}
        for _ in range(_SETTINGS_ATTEMPTS):
            await indexes.sync_settings(uid, drift.doc_type)
            _version, left = await indexes.drift(uid, drift.doc_type)
            if not left:
                break
        return sorted(left)

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()
