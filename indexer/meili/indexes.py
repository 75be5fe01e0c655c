"""This deployment's indexes on one Meilisearch server, one per tenant and document type:
created with their settings on first use, settings brought in line with the code at start-up,
the document shape each was built with recorded in `engine_indexes`, marks for a rebuild
(I/O: Meilisearch, PostgreSQL)."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import asyncpg
from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.models.settings import MeilisearchSettings

from indexer.meili import client as meili
from indexer.meili.config import (
    DEFAULT_INSTANCE,
    DOC_TYPES,
    ENGINE,
    NEXT,
    MeiliConfig,
    index_uid,
    parse_uid,
)
from indexer.meili.documents import SHAPE_VERSION, index_settings, settings_drift
from indexer.model import SPECS, DocType
from indexer.model.relevance import SearchSettings

log = logging.getLogger(__name__)

Key = tuple[uuid.UUID, DocType]
"""A tenant and a document type: one index."""


class MeiliIndexes:
    """The indexes on the server of `config.url` (the instance `name`)."""

    def __init__(self, pool: asyncpg.Pool, client: AsyncClient, config: MeiliConfig,
                 name: str = DEFAULT_INSTANCE) -> None:
        self.pool = pool
        self.client = client
        self.config = config
        self.name = name
        self._known: set[str] = set()
        self.relevance_versions: dict[uuid.UUID, int] = {}
        """The version of each tenant's relevance settings its indexes here carry."""

    async def start(self) -> list[Key]:
        """Check the server, bring every index's settings in line with the code, and return
        the (tenant, doc type) pairs whose index must be (re)built: documents in the index
        table but no index, or an index built with an older document shape (every tenant's:
        one server holds them all; `MeiliFollower.start` asks each server for its own)."""
        return await self.needed(await self.open(), None)

    async def open(self) -> dict[str, Key]:
        """Check the server and bring the settings of each of our indexes on it in line with
        the code; returns those indexes."""
        await meili.check(self.client, self.config)
        log.info("meilisearch %s at %s", self.name, self.config.url,
                 extra={"action": "meili_start"})
        existing = await self._ours()
        for uid, (_tenant, doc_type) in sorted(existing.items()):
            await self.sync_settings(uid, doc_type)
            self._known.add(uid)
        return existing

    async def needed(self, existing: dict[str, Key], tenants: set[uuid.UUID] | None
                     ) -> list[Key]:
        """Of `tenants` (None: all), the indexes to (re)build here: missing from `existing`
        though the tenant has documents, or built with an older shape."""
        built = {r["uid"]: r["shape"] for r in await self.pool.fetch(
            "SELECT uid, shape FROM engine_indexes WHERE engine = $1", ENGINE)}
        needed: list[Key] = []
        for doc_type in DOC_TYPES:
            table = SPECS[doc_type].table
            for row in await self.pool.fetch(
                    f"SELECT t.id FROM tenants t WHERE EXISTS "
                    f"(SELECT 1 FROM {table} i WHERE i.tenant_id = t.id) ORDER BY t.id"):
                key: Key = (row["id"], doc_type)
                if tenants is not None and key[0] not in tenants:
                    continue
                uid = index_uid(self.config.prefix, *key)
                if uid not in existing or built.get(uid) != SHAPE_VERSION:
                    needed.append(key)
        return needed

    async def outdated(self) -> list[Key]:
        """Indexes marked for a rebuild (`reindex --engine meilisearch`) or built with an
        older document shape."""
        rows = await self.pool.fetch(
            "SELECT uid, tenant_id, doc_type FROM engine_indexes WHERE engine = $1 "
            "AND shape <> $2 ORDER BY tenant_id, doc_type", ENGINE, SHAPE_VERSION)
        return [(r["tenant_id"], r["doc_type"]) for r in rows
                if r["uid"] == index_uid(self.config.prefix, r["tenant_id"],
                                         r["doc_type"])]  # this deployment's

    async def _ours(self) -> dict[str, Key]:
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

    async def _relevance(self, tenant_id: uuid.UUID) -> tuple[int, SearchSettings]:
        row = await self.pool.fetchrow(
            "SELECT version, settings FROM search_settings WHERE tenant_id = $1", tenant_id)
        if row is None:
            return 0, SearchSettings()
        raw = row["settings"]
        return int(row["version"]), SearchSettings.model_validate(
            json.loads(raw) if isinstance(raw, str) else raw)

    async def refresh_relevance(self) -> list[tuple[uuid.UUID, int]]:
        """Bring the indexes of every tenant whose relevance settings changed since they
        were last written here in line (synonyms, stop words, typo switches: Meilisearch
        keeps them as index settings); returns (tenant, version) of those brought."""
        changed = [(r["tenant_id"], int(r["version"])) for r in await self.pool.fetch(
            "SELECT tenant_id, version FROM search_settings")
            if self.relevance_versions.get(r["tenant_id"], 0) != r["version"]]
        done = []
        for tenant_id, version in changed:
            uids = [uid for uid in sorted(self._known)
                    if (parse_uid(self.config.prefix, uid) or (None,))[0] == tenant_id]
            for uid in uids:
                parsed = parse_uid(self.config.prefix, uid)
                assert parsed is not None
                await self.sync_settings(uid, parsed[1])
            if uids:
                done.append((tenant_id, version))
        return done

    async def drift(self, uid: str, doc_type: DocType) -> tuple[int, dict[str, Any]]:
        """The version of the tenant's relevance settings and the settings of index `uid`
        that differ from what the code and those settings compile to (`index_settings`;
        empty: in line)."""
        parsed = parse_uid(self.config.prefix, uid.removesuffix(NEXT))
        version, relevance = (await self._relevance(parsed[0])) if parsed else (0, None)
        desired = index_settings(doc_type, self.config.currencies, relevance)
        current = (await self.client.index(uid).get_settings()).model_dump(by_alias=True)
        return version, settings_drift(current, desired)

    async def sync_settings(self, uid: str, doc_type: DocType) -> None:
        """Write the settings of `uid` that drifted (the one path: start-up, a changed
        tenant setting, `verify --repair`) and record the relevance version it carries."""
        parsed = parse_uid(self.config.prefix, uid.removesuffix(NEXT))
        version, drift = await self.drift(uid, doc_type)
        if drift:
            log.info("updating the settings of %s: %s", uid, sorted(drift),
                     extra={"action": "meili_settings"})
            await self.task(self.client.index(uid).update_settings(
                MeilisearchSettings.model_validate(drift)), "settings")
        if parsed is not None:
            self.relevance_versions[parsed[0]] = version

    async def task(self, pending: Any, kind: str) -> None:
        await meili.wait(self.client, await pending, kind, self.config.task_timeout_ms)

    async def create(self, uid: str, doc_type: DocType) -> None:
        await self.client.create_index(uid, "id", timeout_in_ms=self.config.task_timeout_ms)
        await self.sync_settings(uid, doc_type)

    async def ensure(self, key: Key) -> str:
        """The live index of (tenant, doc type), created with its settings on first use."""
        uid = index_uid(self.config.prefix, *key)
        if uid in self._known:
            return uid
        if await self.client.get_raw_index(uid) is None:
            await self.create(uid, key[1])
            await self.record(key, uid)
        self._known.add(uid)
        return uid

    async def record(self, key: Key, uid: str) -> None:
        await self.pool.execute(
            """INSERT INTO engine_indexes (engine, uid, tenant_id, doc_type, shape)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (engine, uid) DO UPDATE SET shape = EXCLUDED.shape,
                   built_at = now()""", ENGINE, uid, key[0], key[1], SHAPE_VERSION)

    async def drop(self, uid: str) -> None:
        self._known.discard(uid)
        if await self.client.get_raw_index(uid) is not None:
            await self.task(self.client.index(uid).delete(), "delete_index")

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
        table = SPECS[kind].table
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
