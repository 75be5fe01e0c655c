"""`verify`: compares the index tables with the source and the engines with the index tables,
and repairs exactly the drifted documents (I/O: PostgreSQL, engines).

The Postgres check rebuilds every document in scope with the same statement the indexer
writes with, in keyset pages, and compares the rows (all columns but version, position and
indexed_at). An engine check compares each document's id, version and content with the index
tables: the engine digests the copy it holds, and the document it should hold for the index row
(its own mapping of the row), so a copy changed under the same version is found too.
A document that cannot be built (or, on repair, written) is reported in `failed` with its
error; every other document is checked and repaired. Engines that keep index settings
(Meilisearch: synonyms, stop words, typo switches, the field order) are compared with what
the tenant's relevance settings compile to, and repaired through the engine writer's path.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg

from indexer.digest import Copy
from indexer.documents import NO_JIT, apply_documents, build_statement, isolating
from indexer.engine_queue import enqueue
from indexer.index_rows import stream_rows
from indexer.model import DOC_TYPES, SPECS, DocType
from indexer.queries import QUERIES

ZERO = uuid.UUID(int=0)


def compare_statement(doc_type: DocType) -> str:
    """Ids among $1 whose document is missing or differs from a fresh build ($2 drafts)."""
    key, table = SPECS[doc_type].key, SPECS[doc_type].table
    return (
        f"WITH built AS ({build_statement(doc_type)}) "
        f"SELECT b.{key} AS id, (i.{key} IS NULL) AS missing FROM built b "
        f"LEFT JOIN {table} i ON i.{key} = b.{key} "
        f"WHERE i.{key} IS NULL OR (to_jsonb(b) - 'truncated' - 'words') IS DISTINCT FROM "
        "(to_jsonb(i) - 'version' - 'position' - 'indexed_at')"
    )


COMPARE: dict[DocType, str] = {t: compare_statement(t) for t in DOC_TYPES}


@dataclass
class Drift:
    backend: str
    doc_type: DocType
    missing: list[uuid.UUID] = field(default_factory=list)
    extra: list[uuid.UUID] = field(default_factory=list)
    stale: list[uuid.UUID] = field(default_factory=list)
    tenants: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    """Document id -> tenant, for engine drift (a document extra in an engine has no row)."""
    failed: dict[tuple[DocType, uuid.UUID], str] = field(default_factory=dict)
    """Documents that could not be built or repaired, with the error."""
    repaired: int = 0

    @property
    def total(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.stale)

    @property
    def ids(self) -> list[uuid.UUID]:
        return [*self.missing, *self.extra, *self.stale]

    def summary(self) -> str:
        return (f"{self.backend:<9} {self.doc_type:<8} missing {len(self.missing):>6}  "
                f"extra {len(self.extra):>6}  stale {len(self.stale):>6}"
                + (f"  repaired {self.repaired:>6}" if self.repaired else "")
                + (f"  failed {len(self.failed):>6}" if self.failed else ""))


class EngineIds(Protocol):
    """What an engine tells verify: its documents of one tenant, and the document it should
    hold for an index row."""

    name: str

    async def copies(self, doc_type: DocType, tenant_id: uuid.UUID) -> Mapping[str, Copy]:
        """Every document of the tenant: id -> (version, `content_digest` of what it holds)."""
        ...

    def digest(self, doc_type: DocType, row: Mapping[str, Any]) -> str:
        """The `content_digest` of the document this engine must hold for an index row."""
        ...

    async def settings_drift(self, tenant_id: uuid.UUID) -> list[SettingsDrift]:
        """The tenant's indexes whose settings differ from what the code and the tenant's
        relevance settings compile to (none for an engine that keeps no settings)."""
        ...

    async def repair_settings(self, drift: SettingsDrift) -> list[str]:
        """Write the index's settings again the way the engine's writer does; the settings
        that still differ afterwards."""
        ...


@dataclass
class SettingsDrift:
    """Settings an engine holds for one tenant's index that differ from what they should be
    (`keys`: the engine's names of the settings)."""

    backend: str
    tenant_id: uuid.UUID
    doc_type: DocType
    index: str
    keys: list[str]
    left: list[str] | None = None
    """After a repair: the settings that still differ (None: not repaired)."""

    def summary(self) -> str:
        state = "" if self.left is None else (
            "  repaired" if not self.left else f"  still differ: {', '.join(self.left)}")
        return (f"{self.backend:<9} settings tenant {self.tenant_id} {self.doc_type} "
                f"({self.index}): {', '.join(self.keys)}{state}")


async def verify_settings(engine: EngineIds, tenant_ids: list[uuid.UUID],
                          repair: bool = False) -> list[SettingsDrift]:
    """The settings drift of each tenant's indexes; with `repair`, each written again (the
    result says what still differs)."""
    found: list[SettingsDrift] = []
    for tenant_id in tenant_ids:
        for drift in await engine.settings_drift(tenant_id):
            if repair:
                drift.left = await engine.repair_settings(drift)
            found.append(drift)
    return found


async def source_pages(
    pool: asyncpg.Pool, doc_type: DocType, tenant_id: uuid.UUID | None,
    doc_id: uuid.UUID | None, page: int,
) -> list[list[uuid.UUID]]:
    """Keyset pages of the source ids in scope (ids only: memory stays small)."""
    pages: list[list[uuid.UUID]] = []
    after = ZERO
    while True:
        rows = await pool.fetch(QUERIES[f"source_page_{SPECS[doc_type].section}"], tenant_id, after,
                                page, doc_id)
        if not rows:
            return pages
        ids = [r["id"] for r in rows]
        pages.append(ids)
        after = ids[-1]


async def verify_postgres(
    pool: asyncpg.Pool, doc_type: DocType, tenant_id: uuid.UUID | None = None,
    index_drafts: bool = True, page: int = 2000,
) -> Drift:
    drift = Drift("postgres", doc_type)
    after = ZERO
    while True:
        rows = await pool.fetch(QUERIES[f"source_page_{SPECS[doc_type].section}"], tenant_id, after,
                                page, None)
        if not rows:
            break
        ids = [r["id"] for r in rows]
        after = ids[-1]

        async def compare(part: list[uuid.UUID]) -> None:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(NO_JIT)
                compared = await conn.fetch(COMPARE[doc_type], part, index_drafts)
            for row in compared:
                (drift.missing if row["missing"] else drift.stale).append(row["id"])

        await isolating(doc_type, ids, compare, drift.failed)
    drift.extra = [r["id"] for r in await pool.fetch(
        QUERIES[f"extra_{SPECS[doc_type].section}"], tenant_id, index_drafts, None)]
    return drift


async def verify_engine(
    pool: asyncpg.Pool, engine: EngineIds, doc_type: DocType, tenant_ids: list[uuid.UUID],
) -> Drift:
    drift = Drift(engine.name, doc_type)
    for tenant_id in tenant_ids:
        expected: dict[str, Copy] = {}
        async for rows in stream_rows(pool, doc_type, tenant_id=tenant_id):
            expected.update((str(row[SPECS[doc_type].key]),
                             (row["version"], engine.digest(doc_type, row))) for row in rows)
        actual = await engine.copies(doc_type, tenant_id)
        missing = [uuid.UUID(i) for i in expected.keys() - actual.keys()]
        extra = [uuid.UUID(i) for i in actual.keys() - expected.keys()]
        stale = [uuid.UUID(i) for i in expected.keys() & actual.keys()
                 if expected[i] != actual[i]]
        drift.missing += missing
        drift.extra += extra
        drift.stale += stale
        drift.tenants.update(dict.fromkeys([*missing, *extra, *stale], tenant_id))
    return drift


async def repair(
    pool: asyncpg.Pool, drift: Drift, engines: tuple[str, ...], index_drafts: bool,
) -> int:
    """Rebuild exactly the drifted documents: for Postgres drift through the indexer's write
    statement (which also queues the engines); for engine drift by queuing the documents.
    Returns how many were repaired (also in `drift.repaired`); those that could not be are
    added to `drift.failed`."""
    if not drift.total:
        return 0
    if drift.backend == "postgres":
        now = datetime.now(UTC)
        result = await apply_documents(pool, drift.doc_type, dict.fromkeys(drift.ids, now),
                                       engines, index_drafts)
        drift.failed.update(result.failed)
        drift.repaired = len({i for i in drift.ids if (drift.doc_type, i) not in drift.failed})
        return drift.repaired
    ids = drift.ids
    await enqueue(pool, [drift.backend], drift.doc_type, ids, [drift.tenants[i] for i in ids])
    drift.repaired = drift.total
    return drift.total
