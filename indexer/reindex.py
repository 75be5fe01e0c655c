"""Reindex: rebuilds every document in a scope (tenant, type, one id) while the indexer keeps
consuming events (I/O: PostgreSQL).

A whole document type (no tenant, no id) is rebuilt as a new generation table, built
set-based on `workers` connections, indexed afterwards and swapped in (indexer/rebuild.py):
several times faster than writing in place, and searches keep reading the old table until
the swap. Anything narrower, or when a rebuild already runs, is rebuilt in place with the
indexer's own versioned write, page by keyset page of source ids, by `workers` concurrent
connections: the previous document stays searchable until its replacement commits. Either
way an event that arrives meanwhile is applied by the consumer and versions decide (the newer
build wins), documents whose source is gone are removed, the engines follow through their
change queue, and progress goes to the `index_jobs` row. Given a `stop` event, a job stops at
the next page boundary once it is set (a generation rebuild is abandoned) and is queued again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import asyncpg

from core_write.errors import Interrupted, NotFound, ValidationFailed
from core_write.ids import new_id
from core_write.settings import Settings
from indexer import metrics
from indexer.documents import apply_documents
from indexer.jobs import held_job
from indexer.model import BY_SECTION, SPECS, DocType
from indexer.queries import QUERIES
from indexer.rebuild import EngineLoader, Rebuild, refusal, with_rebuild_lock
from indexer.verify import ZERO

log = logging.getLogger(__name__)
TYPES: Mapping[str, DocType] = BY_SECTION
Failed = dict[tuple[DocType, uuid.UUID], str]
"""Documents a job could not rebuild, with the error."""


@dataclass(frozen=True)
class Scope:
    tenant_id: uuid.UUID | None = None
    doc_type: DocType | None = None
    doc_id: uuid.UUID | None = None

    def types(self) -> tuple[DocType, ...]:
        return (self.doc_type,) if self.doc_type else ("product", "content")


async def resolve_scope(pool: asyncpg.Pool, tenant: str | None, doc_type: str | None,
                        doc_id: str | None) -> Scope:
    """Validate operator input: a tenant slug or id, `products|content`, an id (with a type)."""
    from core_write.ids import parse_id

    tenant_id = None
    if tenant:
        row = await pool.fetchrow("SELECT id FROM tenants WHERE slug = $1 OR id::text = $1",
                                  tenant)
        if row is None:
            raise NotFound("tenant", tenant)
        tenant_id = row["id"]
    kind = None
    if doc_type is not None:
        if doc_type not in TYPES:
            raise ValidationFailed("type", "must be 'products' or 'content'")
        kind = TYPES[doc_type]
    target = parse_id(doc_id, "id") if doc_id else None
    if target is not None and kind is None:
        raise ValidationFailed("id", "reindexing one document needs its type")
    return Scope(tenant_id, kind, target)


async def create_job(pool: asyncpg.Pool | asyncpg.Connection, scope: Scope,
                     requested_by: str) -> dict[str, Any]:
    """A queued reindex job of `scope` (on a connection: in its transaction)."""
    row = await pool.fetchrow(QUERIES["job_create"], new_id(), scope.tenant_id, scope.doc_type,
                              scope.doc_id, requested_by)
    assert row is not None
    return dict(row)


async def get_job(pool: asyncpg.Pool, job_id: uuid.UUID) -> dict[str, Any]:
    row = await pool.fetchrow(QUERIES["job_get"], job_id)
    if row is None:
        raise NotFound("reindex job", job_id)
    return dict(row)


class Reindexer:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, *, bulk: bool = True,
                 loader: EngineLoader | None = None, stop: asyncio.Event | None = None) -> None:
        """`bulk`: rebuild a whole document type as a new generation table (indexer/rebuild.py)
        instead of in place; `loader`: an engine fed those rows directly (its rows are then
        not queued); `stop`: once set, the job stops at the next page and is queued again."""
        self.pool = pool
        self.settings = settings
        self.bulk = bulk
        self.loader = loader
        self.stop = stop or asyncio.Event()

    async def run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run a job that is `running` (claimed or started); records its end state."""
        scope = Scope(job["tenant_id"], job["doc_type"], job["doc_id"])
        job_id = job["id"]
        failed: Failed = {}
        try:
            await self._rebuild(job_id, scope, failed)
        except Interrupted as exc:
            log.warning("reindex job %s %s", job_id, exc, extra={"action": "reindex"})
            row = await self.pool.fetchrow(QUERIES["job_requeue"], job_id, str(exc))
            metrics.REINDEX_JOBS.labels("interrupted").inc()
        except Exception as exc:
            log.exception("reindex job %s failed", job_id, extra={"action": "reindex"})
            row = await self.pool.fetchrow(QUERIES["job_finish"], job_id, "failed",
                                           f"{type(exc).__name__}: {exc}")
            metrics.REINDEX_JOBS.labels("failed").inc()
        else:
            # every other document was rebuilt; the job fails only for these, named
            state = "failed" if failed else "succeeded"
            row = await self.pool.fetchrow(QUERIES["job_finish"], job_id, state,
                                           failure_report(failed) or None)
            metrics.REINDEX_JOBS.labels(state).inc()
        with contextlib.suppress(KeyError):
            metrics.REINDEX_PROGRESS.remove(str(job_id))
        assert row is not None
        return dict(row)

    async def run(self, scope: Scope, requested_by: str = "cli") -> dict[str, Any]:
        """Create a job for `scope` and run it now (holding it: see indexer/jobs.py)."""
        job = await create_job(self.pool, scope, requested_by)
        async with held_job(self.pool, QUERIES["job_start"], job["id"]) as started:
            assert started is not None
            return await self.run_job(started)

    async def _rebuild(self, job_id: uuid.UUID, scope: Scope, failed: Failed) -> None:
        total = 0
        for doc_type in scope.types():
            total += await self.pool.fetchval(
                QUERIES[f"source_count_{SPECS[doc_type].section}"], scope.tenant_id, scope.doc_id)
        progress = _Progress(self.pool, job_id, total, failed)
        for doc_type in scope.types():
            if self.bulk and scope.tenant_id is None and scope.doc_id is None \
                    and await self._rebuild_generation(doc_type, progress, failed):
                continue
            await self._in_pages(doc_type, scope, progress,
                                 partial(self._apply, doc_type, failed))
            # documents whose source is gone (a delete whose event was lost, or never sent)
            extra = [r["id"] for r in await self.pool.fetch(
                QUERIES[f"extra_{SPECS[doc_type].section}"], scope.tenant_id,
                self.settings.index_drafts, scope.doc_id)]
            if extra:
                await self._apply(doc_type, failed, extra)
        await progress.save(final=True)

    async def _apply(self, doc_type: DocType, failed: Failed, ids: list[uuid.UUID]) -> None:
        result = await apply_documents(self.pool, doc_type,
                                       dict.fromkeys(ids, datetime.now(UTC)),
                                       self.settings.engines, self.settings.index_drafts,
                                       chunk=len(ids))
        failed.update(result.failed)

    async def _rebuild_generation(self, doc_type: DocType, progress: _Progress,
                                  failed: Failed) -> bool:
        """The whole type as a new generation table; False (nothing done) when another
        rebuild runs or the table cannot be swapped: the caller then reindexes in place."""
        done = False

        async def run(conn: asyncpg.Connection) -> None:
            nonlocal done
            reason = await refusal(conn, doc_type)
            if reason:
                log.warning("reindexing %s in place: a table swap would lose %s", doc_type,
                            reason, extra={"action": "reindex", "entity": doc_type})
                return
            rebuild = Rebuild(self.pool, doc_type, self.settings.index_drafts,
                              self.settings.engines, self.loader)
            await rebuild.start(conn)
            try:
                await self._in_pages(doc_type, Scope(), progress, rebuild.build)
                failed.update((await rebuild.finish(self.stop)).failed)
            except BaseException:
                await asyncio.shield(rebuild.abandon())
                raise
            done = True

        if not await with_rebuild_lock(self.pool, doc_type, SPECS[doc_type].lock_class, run):
            log.warning("reindexing %s in place: another rebuild runs", doc_type,
                        extra={"action": "reindex", "entity": doc_type})
        return done

    async def _in_pages(self, doc_type: DocType, scope: Scope, progress: _Progress,
                        apply: Callable[[list[uuid.UUID]], Awaitable[None]]) -> None:
        """Keyset pages of the source ids in scope, each given to `apply` by one of
        `reindex_workers` concurrent tasks."""
        pages: asyncio.Queue[list[uuid.UUID] | None] = asyncio.Queue(
            maxsize=self.settings.reindex_workers * 2)
        workers = self.settings.reindex_workers

        skipped = False

        async def produce() -> None:
            nonlocal skipped
            after = ZERO
            while True:
                if self.stop.is_set():
                    skipped = True
                    break
                rows = await self.pool.fetch(
                    QUERIES[f"source_page_{SPECS[doc_type].section}"], scope.tenant_id, after,
                    self.settings.reindex_batch_size, scope.doc_id)
                if not rows:
                    break
                ids = [r["id"] for r in rows]
                after = ids[-1]
                await pages.put(ids)
            for _ in range(workers):
                await pages.put(None)

        async def consume() -> None:
            nonlocal skipped
            while (ids := await pages.get()) is not None:
                if self.stop.is_set():  # the pages already read wait for the next run
                    skipped = True
                    continue
                await apply(ids)
                await progress.advance(len(ids))

        await asyncio.gather(produce(), *(consume() for _ in range(workers)))
        if skipped:
            await progress.save()
            raise Interrupted(f"stopped by a shutdown at {progress.done}/{progress.total} "
                              "documents; queued again")


def failure_report(failed: Failed, limit: int = 50) -> str:
    """The documents that could not be rebuilt, with their errors, for a job's `error`."""
    if not failed:
        return ""
    shown = [f"{doc_type} {doc_id}: {error}" for (doc_type, doc_id), error in
             sorted(failed.items(), key=lambda item: (item[0][0], str(item[0][1])))[:limit]]
    more = f"; and {len(failed) - limit} more" if len(failed) > limit else ""
    return f"{len(failed)} document(s) could not be rebuilt: " + "; ".join(shown) + more


class _Progress:
    def __init__(self, pool: asyncpg.Pool, job_id: uuid.UUID, total: int,
                 failed: Failed) -> None:
        self.pool, self.job_id, self.total, self.failed = pool, job_id, total, failed
        self.done = 0
        self.started = time.monotonic()
        self.saved = 0.0

    async def advance(self, count: int) -> None:
        self.done += count
        if time.monotonic() - self.saved >= 0.5:
            await self.save()

    async def save(self, final: bool = False) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.saved = time.monotonic()
        await self.pool.execute(QUERIES["job_progress"], self.job_id, self.total, self.done,
                                len(self.failed), self.done / elapsed)
        if not final:
            metrics.REINDEX_PROGRESS.labels(str(self.job_id)).set(
                self.done / self.total if self.total else 1.0)

