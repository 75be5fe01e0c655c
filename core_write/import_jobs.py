"""The bulk import's jobs (`import_jobs`, migration 0017): creating one, finding it (or the
unfinished one of a file, to resume), listing them, and the view callers see, which tells a
running job from one whose runner is gone (I/O: PostgreSQL). The run is `core_write.bulk_import`."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from core_write.errors import NotFound
from core_write.ids import new_id
from core_write.queries import QUERIES

IMPORT_LOCK = 0x494D5054  # 'IMPT', with the hash of the import id as the second key
"""The session advisory lock a runner holds on its job while it runs (`bulk_import.Importer`):
a job whose lock is free is not running, whatever its state says."""


async def create_job(pool: asyncpg.Pool, tenant_id: uuid.UUID, requested_by: str, *,
                     source: str = "", total_bytes: int | None = None,
                     source_sha256: str | None = None,
                     import_id: uuid.UUID | None = None) -> dict[str, Any]:
    row = await pool.fetchrow(QUERIES["import_job_create"], import_id or new_id(), tenant_id,
                              requested_by, source[:500], total_bytes, source_sha256)
    assert row is not None
    return dict(row)


async def get_job(pool: asyncpg.Pool, import_id: uuid.UUID) -> dict[str, Any]:
    row = await pool.fetchrow(QUERIES["import_job_get"], import_id)
    if row is None:
        raise NotFound("import", import_id)
    return dict(row)


async def resumable_job(pool: asyncpg.Pool, tenant_id: uuid.UUID,
                        source_sha256: str) -> dict[str, Any] | None:
    row = await pool.fetchrow(QUERIES["import_job_resumable"], tenant_id, source_sha256)
    return dict(row) if row is not None else None


async def job_view(pool: asyncpg.Pool, job: dict[str, Any], errors: int = 100) -> dict[str, Any]:
    """A job as callers see it: `interrupted` for a running job whose runner is gone, with
    its first refused lines."""
    out = dict(job)
    if job["state"] == "running" and not await _runner_alive(pool, job["id"]):
        out["state"] = "interrupted"
    out["errors"] = [dict(r) for r in await pool.fetch(QUERIES["import_errors_get"],
                                                       job["id"], errors)]
    return out


async def list_jobs(pool: asyncpg.Pool, tenant_id: uuid.UUID | None,
                    limit: int = 50) -> list[dict[str, Any]]:
    rows = await pool.fetch(QUERIES["import_job_list"], tenant_id, limit)
    return [await job_view(pool, dict(row), errors=0) for row in rows]


async def _runner_alive(pool: asyncpg.Pool, import_id: uuid.UUID) -> bool:
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2::text))",
                                   IMPORT_LOCK, str(import_id)):
            return True
        await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2::text))", IMPORT_LOCK,
                           str(import_id))
        return False
