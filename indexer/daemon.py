"""The `rustok-search indexer` daemon: the stream consumer, the reindex job runner, the
scheduled reindex, the engine followers (one writer per engine, chosen by an advisory lock)
and the metrics gauges, as tracked tasks of one process (I/O: everything).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from croniter import croniter
from redis.exceptions import ResponseError

from core_write.backoff import pause
from core_write.db import connect
from core_write.resources import Resources
from indexer import metrics
from indexer.consumer import GROUP, TRANSIENT, Consumer
from indexer.engine_queue import backlog
from indexer.jobs import held_job, recover_orphans
from indexer.model import SPECS, DocType
from indexer.queries import QUERIES
from indexer.rebuild import EngineLoader
from indexer.reindex import Reindexer, Scope, create_job

log = logging.getLogger(__name__)

Follower = Callable[[Resources, asyncio.Event], Coroutine[Any, Any, None]]
LoaderFactory = Callable[[DocType | None], EngineLoader | None]
"""The engine loader a reindex job of a doc type (None: both) may use in this process."""
FOLLOWER_LOCK = 0x464F4C4C  # "FOLL": one engine writer per database


async def job_loop(res: Resources, stop: asyncio.Event, poll: float = 1.0,
                   loader: LoaderFactory | None = None) -> None:
    """Run queued reindex jobs (created by the API or `reindex --queue`), one at a time. In
    the process that writes an engine, `loader` gives the engine's loader, so a full rebuild
    feeds it directly instead of through `engine_queue`."""
    watching = asyncio.create_task(orphan_loop(res, stop, poll), name="job-orphans")
    try:
        while not stop.is_set():
            try:
                ran = await _run_next_job(res, stop, loader)
            except TRANSIENT as exc:  # the job, if any, is queued again once its lock is seen free
                log.warning("reindex jobs wait for the database: %s", exc,
                            extra={"action": "reindex"})
                ran = False
            if not ran:
                await pause(poll, stop)
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)


async def _run_next_job(res: Resources, stop: asyncio.Event,
                        loader: LoaderFactory | None) -> bool:
    """Claim and run the oldest queued job, holding its lock; False when none is queued."""
    async with held_job(res.pool, QUERIES["job_claim"]) as row:
        if row is None:
            return False
        log.info("reindex job %s started", row["id"], extra={"action": "reindex"})
        engine_loader = loader(row["doc_type"]) if loader is not None else None
        reindexer = Reindexer(res.pool, res.settings, loader=engine_loader, stop=stop)
        done = await reindexer.run_job(row)
    log.info("reindex job %s %s: %d documents at %.0f/s", done["id"], done["state"],
             done["done"], done["rate"], extra={"action": "reindex"})
    return True


async def orphan_loop(res: Resources, stop: asyncio.Event, poll: float = 1.0) -> None:
    """Every `poll` seconds, queue again the jobs whose runner died (indexer/jobs.py), even
    while this process runs a long job itself."""
    while not stop.is_set():
        try:
            await recover_orphans(res.pool)
        except (*TRANSIENT, asyncpg.PostgresError) as exc:
            log.warning("orphaned jobs not checked: %s", exc, extra={"action": "reindex"})
        await pause(poll, stop)


async def schedule_loop(res: Resources, stop: asyncio.Event) -> None:
    """Queue a full reindex at each time of the cron expression `REINDEX_SCHEDULE`."""
    expression = res.settings.reindex_schedule
    if not expression:
        return
    times = croniter(expression, datetime.now(UTC))
    while not stop.is_set():
        due: datetime = times.get_next(datetime)
        await pause(max(0.0, (due - datetime.now(UTC)).total_seconds()), stop)
        if stop.is_set():
            return
        # several daemons share the schedule: one advisory lock per due time
        key = int(due.timestamp())
        async with res.pool.acquire() as conn, conn.transaction():
            if await conn.fetchval("SELECT pg_try_advisory_xact_lock($1, $2)", 0x53434844, key):
                already = await conn.fetchval(
                    "SELECT count(*) FROM index_jobs WHERE requested_by = $1",
                    f"schedule:{key}")
                if not already:
                    await create_job(res.pool, Scope(), f"schedule:{key}")
                    log.info("scheduled reindex queued for %s", due.isoformat(),
                             extra={"action": "schedule"})


async def gauge_loop(res: Resources, stop: asyncio.Event, every: float = 5.0,
                     count_every: float = 60.0) -> None:
    """Refresh the gauges that describe state rather than events; the document counts (a
    scan of each index table: 60 ms per million 400-byte rows measured here, more for
    wider ones, in every indexer process) only every `count_every`."""
    redis: aioredis.Redis = res.redis
    counted = -count_every
    while not stop.is_set():
        try:
            with contextlib.suppress(ResponseError):
                for group in await redis.xinfo_groups(res.settings.stream):
                    name = group["name"]
                    if (name.decode() if isinstance(name, bytes) else name) == GROUP:
                        metrics.GROUP_LAG.set(group.get("lag") or 0)
                        metrics.GROUP_PENDING.set(group["pending"])
            metrics.DEAD_LETTERS.set(await redis.xlen(res.settings.key("dlq")))
            metrics.ENGINE_DEAD_LETTERS.set(await redis.xlen(res.settings.key("engine-dlq")))
            for engine, count in (await backlog(res.pool, res.settings.engines)).items():
                metrics.ENGINE_BACKLOG.labels(engine).set(count)
            if time.monotonic() - counted >= count_every:
                counted = time.monotonic()
                for doc_type, spec in SPECS.items():
                    count = await res.pool.fetchval(f"SELECT count(*) FROM {spec.table}")
                    metrics.DOCUMENT_COUNT.labels("postgres", doc_type).set(count)
        except (*TRANSIENT, asyncpg.PostgresError) as exc:
            log.warning("gauges not refreshed: %s", exc)
        await pause(every, stop)


async def lead(res: Resources, stop: asyncio.Event, body: Follower, retry: float = 2.0) -> None:
    """Run `body` only while this process holds the follower lock (a session advisory lock
    on a dedicated connection: it is released when the process or connection dies)."""
    while not stop.is_set():
        conn: asyncpg.Connection | None = None
        try:
            conn = await connect(res.settings.database_url)
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", FOLLOWER_LOCK):
                log.info("this process now writes the engines", extra={"action": "lead"})
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                inner = asyncio.Event()
                runner = asyncio.create_task(body(res, inner))
                await asyncio.wait([runner, asyncio.create_task(stop.wait()),
                                    asyncio.create_task(lost.wait())],
                                   return_when=asyncio.FIRST_COMPLETED)
                inner.set()
                await runner
                continue
        except (*TRANSIENT, asyncpg.PostgresError) as exc:
            log.warning("follower election failed: %s", exc)
        finally:
            if conn is not None and not conn.is_closed():
                await conn.close()
        await pause(retry, stop)


async def run_indexer(res: Resources, stop: asyncio.Event, follower: Follower | None,
                      loader: LoaderFactory | None = None) -> None:
    """Every task of the daemon; the first to fail stops the others (and is re-raised)."""
    consumer = Consumer(res.pool, res.redis, res.settings)
    tasks = [
        asyncio.create_task(consumer.run(stop), name="consumer"),
        asyncio.create_task(job_loop(res, stop, loader=loader), name="jobs"),
        asyncio.create_task(schedule_loop(res, stop), name="schedule"),
        asyncio.create_task(gauge_loop(res, stop), name="gauges"),
    ]
    if follower is not None:
        tasks.append(asyncio.create_task(lead(res, stop, follower), name="follower"))
    done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    failed = [t for t in done if not t.cancelled() and t.exception() is not None]
    if failed:
        stop.set()
        log.error("task %s failed", failed[0].get_name(), exc_info=failed[0].exception())
    await asyncio.gather(*tasks, return_exceptions=True)
    if failed:
        raise failed[0].exception()  # type: ignore[misc]
