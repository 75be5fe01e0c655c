"""The outbox relay: moves committed outbox rows onto the Redis stream in seq order, at least
once, and keeps Postgres informed of what the consumer groups acknowledged (I/O: PostgreSQL,
Redis).

Why it is built this way (see DESIGN.md pitfalls):
- Sequence values are handed out at insert, not commit, so the relay never remembers a
  "highest seq sent": each row records its own `published_at`, and every batch takes the
  oldest rows still unpublished.
- Batches of all relays run under one transaction-scoped advisory lock, so two relays neither
  publish a row twice nor reorder rows.
- Redis here keeps nothing on disk. An epoch written both to Redis and to `relay_state` tells a
  restarted (empty) Redis apart; then every row not yet acknowledged by the consumer groups is
  published again and the groups are recreated at the start of the stream. Consumers drop
  duplicates by the event id each entry carries.
- The stream is trimmed with MINID below what every group has acknowledged, never by length.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from core_write.backoff import Backoff, pause
from core_write.db import listen
from core_write.errors import OUTAGES, RedisLost
from core_write.settings import Settings
from indexer import metrics
from indexer.queries import QUERIES
from indexer.streams import GroupState, acknowledged_below, format_stream_id, parse_stream_id

log = logging.getLogger(__name__)

CHANNEL = "rustok_outbox"


@dataclass
class RelayStats:
    published: int = 0
    batches: int = 0
    recoveries: int = 0
    acked: int = 0
    last_ack_sync: float = field(default=0.0)


def lock_key(stream: str) -> int:
    """A stable advisory lock id per stream (crc32 fits in a bigint)."""
    return 0x52454C4159000000 + zlib.crc32(stream.encode())


class Relay:
    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis, settings: Settings) -> None:
        self.pool = pool
        self.redis = redis
        self.settings = settings
        self.stream = settings.stream
        self.epoch_key = settings.key("relay:epoch")
        self.lock = lock_key(self.stream)
        self.stats = RelayStats()
        self._wake = asyncio.Event()

    # ---- one batch ---------------------------------------------------------------------
    async def publish_batch(self) -> int:
        """Publish the oldest unpublished rows; returns how many were published."""
        async with self.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    await conn.execute(QUERIES["relay_lock"], self.lock)
                    epoch = await conn.fetchval(QUERIES["relay_epoch"], self.stream)
                    if epoch is None:
                        raise RedisLost("no epoch recorded yet")
                    rows = await conn.fetch(QUERIES["relay_claim"], self.settings.relay_batch_size)
                    if not rows:
                        return 0
                    # Checked before and again within the pipeline: the first check avoids
                    # writing a batch into a stream Redis has just lost, the second catches a
                    # loss between the two (then the batch is simply published again).
                    current = await self.redis.get(self.epoch_key)
                    if current is None or _text(current) != str(epoch):
                        raise RedisLost("epoch key missing or different")
                    pipe = self.redis.pipeline(transaction=False)
                    pipe.get(self.epoch_key)
                    for row in rows:
                        pipe.xadd(self.stream, {
                            "id": str(row["event_id"]), "seq": row["seq"],
                            "type": row["event_type"], "tenant": str(row["tenant_id"]),
                            "data": row["data"],
                        })
                    results = await pipe.execute()
                    if results[0] is None or _text(results[0]) != str(epoch):
                        raise RedisLost("epoch key missing or different")
                    ids = [parse_stream_id(raw) for raw in results[1:]]
                    await conn.execute(
                        QUERIES["relay_mark_published"], [row["seq"] for row in rows],
                        [i[0] for i in ids], [i[1] for i in ids],
                    )
            except RedisLost as exc:
                log.warning("redis state lost (%s): republishing unacknowledged events", exc,
                            extra={"action": "relay_recover"})
                await self.recover(conn)
                return 0
        self.stats.published += len(rows)
        self.stats.batches += 1
        metrics.RELAY_PUBLISHED.inc(len(rows))
        return len(rows)

    # ---- recovery after Redis lost its data ----------------------------------------------
    async def recover(self, conn: asyncpg.Connection) -> None:
        """Start a new epoch: unpublish every unacknowledged row, recreate the groups at the
        start of the (new) stream, then record the epoch in Redis and Postgres."""
        async with conn.transaction():
            await conn.execute(QUERIES["relay_lock"], self.lock)
            if await self._in_sync(conn):
                return  # another relay recovered while we waited for the lock
            previous = await conn.fetchval(QUERIES["relay_epoch"], self.stream)
            epoch = uuid.uuid4()
            reset = await conn.execute(QUERIES["relay_unpublish_unacked"])
            await self._ensure_groups()
            await conn.execute(QUERIES["relay_set_epoch"], self.stream, epoch)
            await self.redis.set(self.epoch_key, str(epoch))
        if previous is not None:  # the very first epoch of a deployment is no loss
            self.stats.recoveries += 1
            metrics.RELAY_RECOVERIES.inc()
        log.info("relay epoch %s started (%s)", epoch, reset, extra={"action": "relay_epoch"})

    async def _in_sync(self, conn: asyncpg.Connection) -> bool:
        epoch = await conn.fetchval(QUERIES["relay_epoch"], self.stream)
        current = await self.redis.get(self.epoch_key)
        if epoch is None or current is None or _text(current) != str(epoch):
            return False
        try:
            await self.group_states()
        except RedisLost:
            return False
        return True

    async def _ensure_groups(self) -> None:
        for group in self.settings.consumer_groups:
            try:
                await self.redis.xgroup_create(self.stream, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    # ---- acknowledgements, trimming, purge ----------------------------------------------
    async def group_states(self) -> list[GroupState]:
        """Every group on the stream; raises RedisLost if the stream or a group is missing."""
        try:
            infos: list[dict[Any, Any]] = await self.redis.xinfo_groups(self.stream)
        except ResponseError as exc:
            raise RedisLost(f"stream missing: {exc}") from None
        states = []
        for info in infos:
            name = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
            pending = int(info["pending"])
            min_pending = None
            if pending:
                summary = await self.redis.xpending(self.stream, name)
                if summary["min"] is not None:
                    min_pending = parse_stream_id(summary["min"])
            states.append(GroupState(name, parse_stream_id(info["last-delivered-id"]),
                                     pending, min_pending))
        missing = set(self.settings.consumer_groups) - {state.name for state in states}
        if missing:
            raise RedisLost(f"consumer groups missing: {sorted(missing)}")
        return states

    async def sync_acks(self) -> int:
        """Mark rows every group acknowledged, trim the stream below them, purge old rows."""
        async with self.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    await conn.execute(QUERIES["relay_lock"], self.lock)
                    epoch = await conn.fetchval(QUERIES["relay_epoch"], self.stream)
                    current = await self.redis.get(self.epoch_key)
                    if epoch is None or current is None or _text(current) != str(epoch):
                        raise RedisLost("epoch key missing or different")
                    safe = acknowledged_below(await self.group_states())
                    if safe is None:
                        return 0
                    status = await conn.execute(QUERIES["relay_mark_acked"], safe[0], safe[1])
                    acked = int(status.split()[-1])
                    await self.redis.xtrim(self.stream, minid=format_stream_id(safe),
                                           approximate=False)
                    await conn.execute(
                        QUERIES["relay_purge_acked"],
                        timedelta(seconds=self.settings.relay_retention_seconds), 10_000,
                    )
            except RedisLost as exc:
                log.warning("redis state lost (%s): republishing unacknowledged events", exc,
                            extra={"action": "relay_recover"})
                await self.recover(conn)
                return 0
        self.stats.acked += acked
        self.stats.last_ack_sync = time.monotonic()
        metrics.RELAY_ACKED.inc(acked)
        backlog = await self.pool.fetchrow(QUERIES["relay_backlog"])
        if backlog is not None:
            metrics.OUTBOX_BACKLOG.set(backlog["backlog"])
            metrics.OUTBOX_OLDEST_AGE.set(backlog["oldest_age"])
        return acked

    # ---- the daemon loop ----------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set, woken by NOTIFY with a polling fallback."""
        listener = asyncio.create_task(
            listen(self.settings.database_url, CHANNEL, self._wake, stop,
                   self.settings.relay_poll_interval, "relay_listen"), name="relay-listen")
        try:
            async with self.pool.acquire() as conn:
                if await conn.fetchval(QUERIES["relay_epoch"], self.stream) is None:
                    await self.recover(conn)
            backoff = Backoff()
            while not stop.is_set():
                self._wake.clear()
                try:
                    published = await self.publish_batch()
                    now = time.monotonic()
                    if now - self.stats.last_ack_sync >= self.settings.relay_ack_sync_interval:
                        await self.sync_acks()
                        self.stats.last_ack_sync = now
                except OUTAGES as exc:  # a server restarting: the batch is published later
                    log.warning("relay backing off %.1fs after an outage: %s", backoff.delay,
                                exc, extra={"action": "outage"})
                    await backoff.wait(stop)
                    continue
                backoff.reset()
                if published >= self.settings.relay_batch_size:
                    continue  # more may be waiting: no pause between full batches
                await pause(self.settings.relay_poll_interval, self._wake, stop)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        log.info("relay stopped after %d events in %d batches", self.stats.published,
                 self.stats.batches, extra={"action": "relay_stop"})


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

