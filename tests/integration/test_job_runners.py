"""Reindex jobs survive their runner: a stopping runner ends its job at a page boundary and
queues it again, leaving no generation table behind; a job whose runner died is found within
seconds, queued again (failed after MAX_ATTEMPTS) and its leftovers removed; an indexer
process SIGTERMed or SIGKILLed mid-job leaves nothing behind and the job completes later."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from bench.catalog import load_catalog
from core_write.settings import Settings
from indexer import reindex
from indexer.jobs import JOB_LOCK, MAX_ATTEMPTS, held_job, recover_orphans
from indexer.queries import QUERIES
from indexer.rebuild import Rebuild, _sql
from indexer.reindex import Reindexer, Scope, create_job, get_job
from indexer.tantivy.store import GenerationStore
from indexer.verify import verify_postgres
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
LOG = Path(os.environ.get("JOBS_TEST_LOG", "/tmp/rustok-jobs-test.log"))
LEFTOVER = "SELECT to_regclass('index_products_rebuild') IS NOT NULL"


async def test_a_stopping_runner_ends_its_job_at_a_page_and_queues_it_again(
    db_dsn: str, pool: asyncpg.Pool, settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await load_catalog(db_dsn, 60, 0, 1, seed=4, connections=1, chunk=30)
    stop = asyncio.Event()
    advance = reindex._Progress.advance

    async def stop_after_first_page(self: reindex._Progress, count: int) -> None:
        await advance(self, count)
        stop.set()  # the runner is told to stop while the first page is done

    monkeypatch.setattr(reindex._Progress, "advance", stop_after_first_page)
    small = settings.model_copy(update={"reindex_batch_size": 10, "reindex_workers": 1})
    for bulk in (True, False):
        stop.clear()
        job = await Reindexer(pool, small, bulk=bulk, stop=stop).run(
            Scope(doc_type="product"))
        assert job["state"] == "queued", job
        assert 10 <= job["done"] < 60 and job["attempts"] == 0
        assert "stopped by a shutdown" in job["error"]
        assert not await pool.fetchval(LEFTOVER)
    monkeypatch.setattr(reindex._Progress, "advance", advance)
    async with held_job(pool, QUERIES["job_claim"]) as claimed:
        assert claimed is not None and claimed["attempts"] == 1
        done = await Reindexer(pool, small).run_job(claimed)
    assert done["state"] == "succeeded" and done["done"] == 60


async def test_a_stopping_runner_cancels_the_index_builds_of_a_rebuild(
    db_dsn: str, pool: asyncpg.Pool, settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await load_catalog(db_dsn, 30, 0, 1, seed=6, connections=1, chunk=30)
    live = await Reindexer(pool, settings).run(Scope(doc_type="product"))
    assert live["state"] == "succeeded"
    stop, cancelled = asyncio.Event(), asyncio.Event()

    async def endless_index_build(self: Rebuild) -> None:
        stop.set()  # the runner is told to stop while the indexes are being built
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    monkeypatch.setattr(Rebuild, "_create_indexes", endless_index_build)
    job = await asyncio.wait_for(
        Reindexer(pool, settings, stop=stop).run(Scope(doc_type="product")), timeout=10)
    assert cancelled.is_set()
    assert job["state"] == "queued" and "before the swap" in job["error"]
    assert not await pool.fetchval(LEFTOVER)
    assert await pool.fetchval("SELECT count(*) FROM index_products") == 30


async def _runner(pool: asyncpg.Pool, attempt: int, holding: asyncio.Event,
                  release: asyncio.Event, backend: list[int]) -> None:
    """Claim the job and hold it until `release`; `backend` gets the lock holder's pid."""
    async with held_job(pool, QUERIES["job_claim"]) as row:
        assert row is not None and row["attempts"] == attempt
        backend.append(await pool.fetchval(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = $1", JOB_LOCK))
        holding.set()
        await release.wait()


async def test_a_job_whose_runner_died_is_queued_again_then_failed(
    pool: asyncpg.Pool,
) -> None:
    job = await create_job(pool, Scope(doc_type="product"), "test")
    for attempt in range(1, MAX_ATTEMPTS + 1):
        holding, release = asyncio.Event(), asyncio.Event()
        backend: list[int] = []
        running = asyncio.create_task(_runner(pool, attempt, holding, release, backend))
        await holding.wait()
        async with pool.acquire() as conn:  # a dead rebuild's table
            await conn.execute(_sql("rebuild_create", "product"))
        assert await recover_orphans(pool) == []  # its runner lives
        assert (await get_job(pool, job["id"]))["state"] == "running"
        # the runner's connection dies (as with SIGKILL): its lock goes with it
        await pool.execute("SELECT pg_terminate_backend($1, 5000)", backend[0])
        started = time.monotonic()
        found = await recover_orphans(pool)
        assert time.monotonic() - started < 2
        assert [j["id"] for j in found] == [job["id"]]
        assert not await pool.fetchval(LEFTOVER)
        release.set()
        await asyncio.gather(running, return_exceptions=True)
        state = (await get_job(pool, job["id"]))
        if attempt < MAX_ATTEMPTS:
            assert state["state"] == "queued" and "runner died" in state["error"]
        else:
            assert state["state"] == "failed" and state["finished_at"] is not None


# ---- the indexer process -----------------------------------------------------------------
def _env(settings: Settings, tantivy: Path) -> dict[str, str]:
    return dict(os.environ, DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url,
                RUSTOK_STREAM_PREFIX=settings.stream_prefix, RUSTOK_ENGINES="tantivy",
                TANTIVY_DIR=str(tantivy), INDEXER_METRICS_PORT="0", RUSTOK_LOG_LEVEL="WARNING",
                REINDEX_BATCH_SIZE="5", REINDEX_WORKERS="1")


async def _indexer(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rustok_search.cli", "indexer", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=LOG.open("ab"))  # noqa: ASYNC230


async def _started_job(pool: asyncpg.Pool, store: GenerationStore) -> uuid.UUID:
    """Once the engine writer serves its first rebuilt generation, a full product reindex
    (loaded into a new generation) that has done some pages."""

    async def serving() -> bool:
        return store.current() not in (None, "gen-1")

    await wait_until(serving, timeout=30, what="the engine writer's first generation")
    job = await create_job(pool, Scope(doc_type="product"), "test")

    async def going() -> bool:
        return bool(await pool.fetchval("SELECT done FROM index_jobs WHERE id = $1", job["id"]))

    await wait_until(going, timeout=30, what="the job to make progress")
    assert await pool.fetchval(LEFTOVER)
    return uuid.UUID(str(job["id"]))


async def _finished(pool: asyncpg.Pool, job_id: uuid.UUID) -> None:
    async def succeeded() -> bool:
        state = await pool.fetchval("SELECT state FROM index_jobs WHERE id = $1", job_id)
        assert state != "failed"
        return bool(state == "succeeded")

    await wait_until(succeeded, timeout=90, what="the job to succeed")
    drift = await verify_postgres(pool, "product")
    assert drift.total == 0, drift.summary()


@dataclass
class MidJob:
    """An indexer process running a full product reindex into a new Tantivy generation."""

    env: dict[str, str]
    store: GenerationStore
    proc: asyncio.subprocess.Process
    job_id: uuid.UUID
    building: str
    """The generation the job loads."""

    async def end(self, signum: signal.Signals) -> tuple[int, float]:
        """Send `signum`; the exit code and how long the process took to exit."""
        self.proc.send_signal(signum)
        started = time.monotonic()
        code = await asyncio.wait_for(self.proc.wait(), timeout=15)
        return code, time.monotonic() - started


@pytest.fixture
async def mid_job(db_dsn: str, pool: asyncpg.Pool, settings: Settings,
                  tmp_path: Path) -> AsyncIterator[MidJob]:
    await load_catalog(db_dsn, 2000, 0, 2, seed=8, connections=1)
    env = _env(settings, tmp_path / "tantivy")
    store = GenerationStore(tmp_path / "tantivy", "product")
    proc = await _indexer(env)
    run = None
    try:
        job_id = await _started_job(pool, store)
        run = MidJob(env, store, proc, job_id, store.generations()[-1])
        assert run.building != store.current()
        yield run
    finally:
        proc = run.proc if run is not None else proc
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()


@pytest.mark.slow
async def test_an_indexer_sigtermed_mid_job_stops_at_once_and_another_finishes_it(
    pool: asyncpg.Pool, mid_job: MidJob,
) -> None:
    code, seconds = await mid_job.end(signal.SIGTERM)
    assert code == 0 and seconds < 10
    run = mid_job
    job = await get_job(pool, run.job_id)
    assert job["state"] == "queued" and "stopped by a shutdown" in job["error"]
    assert job["done"] < 2000
    assert not await pool.fetchval(LEFTOVER)
    assert run.building not in run.store.generations()  # abandoned with the job
    run.proc = await _indexer(run.env)
    await _finished(pool, run.job_id)


@pytest.mark.slow
async def test_an_indexer_sigkilled_mid_job_is_found_and_its_leftovers_removed(
    pool: asyncpg.Pool, mid_job: MidJob,
) -> None:
    await mid_job.end(signal.SIGKILL)
    run = mid_job
    run.proc = await _indexer(run.env)
    started = time.monotonic()

    async def found() -> bool:
        job = await get_job(pool, run.job_id)
        return job["attempts"] >= 2 or "runner died" in (job["error"] or "")

    await wait_until(found, timeout=20, what="the orphaned job to be found")
    assert time.monotonic() - started < 10
    await _finished(pool, run.job_id)
    job = await get_job(pool, run.job_id)
    assert job["attempts"] == 2
    assert not await pool.fetchval(LEFTOVER)
    # the dead rebuild's generation was removed (the job's new one may have taken its
    # number), and nothing newer than the live generation is left
    store = run.store
    assert store.current() == run.building or run.building not in store.generations()
    assert store.generations()[-1] == store.current()
