"""Reindex jobs that survive their runner (I/O: PostgreSQL).

A runner holds a session advisory lock on the job it runs, taken in the transaction that
marks the job running, so no one sees the job running without its lock. The lock goes with
the runner's connection: a running job whose lock is free lost its runner (SIGKILL, a crash,
a lost connection). `recover_orphans`, which every job loop runs every second, queues such a
job again (or fails it once it was started `MAX_ATTEMPTS` times) and drops the generation
table its rebuild left; the Tantivy generation it was loading is removed by the next engine
writer (`GenerationStore.remove_unfinished`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from indexer.queries import QUERIES
from indexer.rebuild import remove_leftovers

log = logging.getLogger(__name__)

JOB_LOCK = 0x4A4F4253  # 'JOBS', with the hash of the job id as the second key
MAX_ATTEMPTS = 3
_TRY_LOCK = "SELECT pg_try_advisory_lock($1, hashtext($2::uuid::text))"
_UNLOCK = "SELECT pg_advisory_unlock($1, hashtext($2::uuid::text))"


@asynccontextmanager
async def held_job(pool: asyncpg.Pool, query: str, *args: Any) -> AsyncIterator[
        dict[str, Any] | None]:
    """The job that `query` marks running (None if none), locked for the block on a
    connection of its own; the lock is taken in the same transaction, or nothing changes."""
    async with pool.acquire() as conn:
        job: dict[str, Any] | None = None
        transaction = conn.transaction()
        await transaction.start()
        try:
            row = await conn.fetchrow(query, *args)
            if row is not None and await conn.fetchval(_TRY_LOCK, JOB_LOCK, row["id"]):
                job = dict(row)
        except BaseException:
            await transaction.rollback()
            raise
        if job is None:
            await transaction.rollback()  # (a hash collision with a running job: retry later)
            yield None
            return
        await transaction.commit()
        try:
            yield job
        finally:
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await conn.execute(_UNLOCK, JOB_LOCK, job["id"])


async def recover_orphans(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """Queue again (or fail) every running job whose runner died; drop what its rebuild
    left. Returns those jobs as they are now."""
    orphans = []
    for row in await pool.fetch(QUERIES["job_running"]):
        async with pool.acquire() as conn:
            if not await conn.fetchval(_TRY_LOCK, JOB_LOCK, row["id"]):
                continue  # its runner lives
            try:
                job = await conn.fetchrow(QUERIES["job_orphaned"], row["id"], MAX_ATTEMPTS)
            finally:
                await conn.execute(_UNLOCK, JOB_LOCK, row["id"])
        if job is not None:
            orphans.append(dict(job))
            log.warning("reindex job %s lost its runner: %s", job["id"], job["state"],
                        extra={"action": "reindex_orphan"})
    if orphans:
        for table in await remove_leftovers(pool):
            log.warning("dropped %s, left by a dead rebuild", table,
                        extra={"action": "reindex_orphan"})
    return orphans
