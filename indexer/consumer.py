"""The indexer's stream consumer: reads the event stream through the `indexer` consumer group,
batches and coalesces events, rebuilds the documents they change, then acknowledges
(I/O: Redis, PostgreSQL).

Failure handling, in the order it applies:
- an entry that is not a valid event goes straight to the dead-letter stream;
- a batch that fails is split in halves until the failing entry is alone; that entry stays
  pending and is retried with exponential backoff, and after `max_deliveries` deliveries it is
  moved to the dead-letter stream together with its error; the others are indexed meanwhile;
- a document PostgreSQL refuses is isolated by `apply_documents`: every other document of the
  batch is written. An entry that names its documents directly (no lookup) and names a failed
  one is retried as above (one such entry per document; the others are acknowledged), its
  dead letter naming the document; a failed document reached
  through a fan-out is handed off as its own `ReindexRequested` event (written to the outbox,
  so durable) and the fan-out entry is acknowledged: that event then retries and, if need
  be, is dead-lettered alone;
- an outage of PostgreSQL or Redis poisons nothing: the batch stays pending and is retried;
- entries left pending by a dead consumer are taken over seconds after its heartbeat expired
  (indexer/liveness.py), or with XAUTOCLAIM after `claim_idle_ms` as a fallback.
Acknowledgement happens only after the documents are committed, so SIGKILL loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import ResponseError

from core_write import events as ev
from core_write.backoff import Backoff
from core_write.errors import OUTAGES
from core_write.events import EventEnvelope
from core_write.ids import new_id
from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer import metrics
from indexer.documents import ApplyResult, apply_documents, describe, resolve
from indexer.fanout import Docs, bounded_groups, plan_batch, planned_size, targets_of
from indexer.liveness import Liveness
from indexer.model import DocType
from indexer.queries import QUERIES

log = logging.getLogger(__name__)

GROUP = "indexer"
TRANSIENT = OUTAGES
"""An outage (core_write.errors): the batch stays pending and the loop backs off."""


@dataclass(frozen=True)
class Entry:
    entry_id: bytes
    fields: dict[bytes, bytes]
    envelope: EventEnvelope | None
    error: str | None = None

    @property
    def event_type(self) -> str:
        return self.fields.get(b"type", b"?").decode(errors="replace")


def parse_entry(entry_id: bytes, fields: dict[bytes, bytes]) -> Entry:
    """Decode one stream entry; an undecodable one carries its error instead (pure)."""
    raw = fields.get(b"data")
    if raw is None:
        return Entry(entry_id, fields, None, "entry has no data field")
    try:
        return Entry(entry_id, fields, EventEnvelope.from_json(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return Entry(entry_id, fields, None, f"invalid event at {where}: {first['msg']}")


@dataclass
class ConsumerStats:
    batches: int = 0
    events: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    retries: int = 0
    applied: ApplyResult = field(default_factory=ApplyResult)


class Consumer:
    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis, settings: Settings) -> None:
        self.pool = pool
        self.redis = redis
        self.settings = settings
        self.stream = settings.stream
        self.dlq = settings.key("dlq")
        self.name = settings.indexer_consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.stats = ConsumerStats()
        self._retry_at: dict[bytes, float] = {}
        self._last_claim = 0.0
        self.liveness = Liveness(redis, settings, GROUP, self.name)

    # ---- reading ------------------------------------------------------------------------
    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _xreadgroup(self, count: int, block_ms: int | None) -> list[tuple[bytes, Any]]:
        try:
            reply = await self.redis.xreadgroup(GROUP, self.name, {self.stream: ">"},
                                                count=count, block=block_ms)
        except ResponseError as exc:
            if "NOGROUP" in str(exc) or "UNBLOCKED" in str(exc):
                await self.ensure_group()  # Redis lost its data; the relay republishes
                return []
            raise
        streams: list[Any] = reply or []  # type: ignore[assignment]
        return [entry for _stream, entries in streams for entry in entries]

    async def _claim(self) -> list[tuple[bytes, Any]]:
        """Entries due for a retry (ours) and entries a dead consumer left pending."""
        claimed: list[tuple[bytes, Any]] = []
        now = time.monotonic()
        due = [entry_id for entry_id, at in self._retry_at.items() if at <= now]
        if due:
            for entry_id in due:
                del self._retry_at[entry_id]
            entries: list[Any] = await self.redis.xclaim(
                self.stream, GROUP, self.name, min_idle_time=0,
                message_ids=list[Any](due))
            claimed += [e for e in entries if e[1]]
        claimed += await self.liveness.reclaim(self.settings.indexer_batch_size - len(claimed))
        if now - self._last_claim >= self.settings.indexer_claim_idle_ms / 4000:
            self._last_claim = now
            reply: list[Any] = await self.redis.xautoclaim(
                self.stream, GROUP, self.name, self.settings.indexer_claim_idle_ms,
                start_id="0-0", count=self.settings.indexer_batch_size)
            entries, deleted = reply[1], (reply[2] if len(reply) > 2 else [])
            if deleted:
                # trimmed while pending: their events cannot be read back; say so loudly
                log.error("%d pending entries were removed from the stream before processing",
                          len(deleted), extra={"action": "claim_deleted"})
                await self.redis.xack(self.stream, GROUP, *deleted)
            claimed += [e for e in entries if e[1]]
        return claimed

    async def read_batch(self, stop: asyncio.Event) -> list[Entry]:
        """Up to `batch_size` entries: claimed ones first, then new ones; waits at most
        `max_wait_ms` after the first entry arrives to fill the batch."""
        size = self.settings.indexer_batch_size
        raw = await self._claim()
        if not raw:
            raw = await self._xreadgroup(size, 1000 if not stop.is_set() else None)
        if raw and len(raw) < size and self.settings.indexer_max_wait_ms:
            deadline = time.monotonic() + self.settings.indexer_max_wait_ms / 1000
            while len(raw) < size:
                left = int((deadline - time.monotonic()) * 1000)
                if left <= 0:
                    break
                more = await self._xreadgroup(size - len(raw), left)
                if not more:
                    break
                raw += more
        return [parse_entry(entry_id, fields) for entry_id, fields in raw]

    # ---- processing ---------------------------------------------------------------------
    async def process(self, entries: Sequence[Entry]) -> None:
        """Index a batch; acknowledge what was indexed or dead-lettered."""
        if not entries:
            return
        started = time.perf_counter()
        valid: list[Entry] = []
        seen: set[Any] = set()
        done: list[bytes] = []
        for entry in entries:
            if entry.envelope is None:
                await self._dead_letter(entry, entry.error or "invalid")
                continue
            if entry.envelope.id in seen:
                self.stats.duplicates += 1
                metrics.EVENTS.labels(entry.event_type, "duplicate").inc()
                done.append(entry.entry_id)
                continue
            seen.add(entry.envelope.id)
            valid.append(entry)
        # a storm (a 100k-row UPDATE: 200 entries of 500 keys) is indexed and acknowledged
        # in parts of at most `indexer_apply_chunk` named documents, not as one plan
        sizes = [planned_size(e.envelope.event) for e in valid if e.envelope is not None]
        for part in bounded_groups(sizes, self.settings.indexer_apply_chunk):
            indexed = await self._index(valid[part])
            await self._mark_indexed([e for e in valid[part] if e.entry_id in set(indexed)])
            done += indexed
            if done:
                await self.redis.xack(self.stream, GROUP, *done)
                done = []
        if done:
            await self.redis.xack(self.stream, GROUP, *done)
        self.stats.batches += 1
        self.stats.events += len(entries)
        metrics.BATCH_SIZE.observe(len(entries))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)

    async def _mark_indexed(self, entries: list[Entry]) -> None:
        """Tell read-your-writes waiters that these outbox positions are indexed."""
        seqs = [int(e.fields[b"seq"]) for e in entries if e.fields.get(b"seq", b"").isdigit()]
        if seqs:
            await self.pool.execute(QUERIES["mark_indexed"], seqs)

    async def _index(self, entries: list[Entry]) -> list[bytes]:
        """Index `entries`; on failure split to isolate the poison. Returns the ids to ack."""
        if not entries:
            return []
        done: list[bytes] = []
        try:
            result = await self._apply(entries)
            if result.failed:
                entries, done = await self._isolate(entries, result.failed)
        except TRANSIENT:
            raise  # an outage: leave the whole batch pending, the loop backs off
        except Exception as exc:  # noqa: BLE001 - isolate whatever breaks a batch
            if len(entries) == 1:
                return await self._failed(entries[0], describe(exc))
            half = len(entries) // 2
            return await self._index(entries[:half]) + await self._index(entries[half:])
        self.stats.applied += result
        now = datetime.now(UTC)
        for entry in entries:
            assert entry.envelope is not None
            metrics.EVENTS.labels(entry.event_type, "indexed").inc()
            metrics.LAG_SECONDS.labels("postgres").observe(
                max(0.0, (now - entry.envelope.timestamp).total_seconds()))
        return done + [entry.entry_id for entry in entries]

    async def _isolate(self, entries: list[Entry], failed: dict[tuple[DocType, Any], str]
                       ) -> tuple[list[Entry], list[bytes]]:
        """After a batch whose other documents were written: retry (or dead-letter) the
        entries naming a failed document directly, hand the other failed documents off as
        events of their own. Returns the entries indexed and the ids dead-lettered."""
        indexed: list[Entry] = []
        direct: list[tuple[Entry, list[tuple[DocType, Any]]]] = []
        owned: set[tuple[DocType, Any]] = set()
        for entry in entries:
            assert entry.envelope is not None
            targets = targets_of(entry.envelope.event)
            mine = [(t.doc_type, i) for t in targets if isinstance(t, Docs) for i in t.ids
                    if (t.doc_type, i) in failed]
            # one entry carries each failed document on (an entry whose failed documents
            # another one carries is done: they are rebuilt from the source either way)
            if mine and all(isinstance(t, Docs) for t in targets) and not owned.issuperset(mine):
                direct.append((entry, mine))
                owned.update(mine)
            else:
                indexed.append(entry)
        # first the hand-off (it may fail: then nothing was dead-lettered yet)
        await self._hand_off({doc: error for doc, error in failed.items() if doc not in owned})
        dead: list[bytes] = []
        for entry, mine in direct:
            error = "; ".join(f"{doc_type} {doc_id}: {failed[doc_type, doc_id]}"
                              for doc_type, doc_id in mine)
            dead += await self._failed(entry, error, mine[0])
        return indexed, dead

    async def _hand_off(self, failed: dict[tuple[DocType, Any], str]) -> None:
        """One `ReindexRequested` event per failed document, through the outbox (so it
        survives a crash or a Redis loss once this batch is acknowledged)."""
        if not failed:
            return
        async with CoreWrite(self.pool).unit() as unit:
            for (doc_type, doc_id), error in failed.items():
                tenant = await unit.conn.fetchval(QUERIES[f"doc_tenant_{doc_type}"], doc_id)
                if tenant is None:
                    log.error("failed %s document %s has no tenant any more; dropped: %s",
                              doc_type, doc_id, error, extra={"action": "document_failed"})
                    continue
                unit.emit(tenant, ev.ReindexRequested(
                    request_id=new_id(), target_id=doc_id,
                    target_type="products" if doc_type == "product" else "content"))
                log.warning("%s document %s failed within a fan-out; retried as its own "
                            "event: %s", doc_type, doc_id, error,
                            extra={"action": "document_handoff", "entity": doc_type})

    async def _apply(self, entries: list[Entry]) -> ApplyResult:
        plan = plan_batch(e.envelope for e in entries if e.envelope is not None)
        async with self.pool.acquire() as conn:
            resolved = await resolve(conn, plan)
        result = ApplyResult()
        for doc_type, docs in resolved.items():
            if docs:
                part = await apply_documents(
                    self.pool, doc_type, docs, self.settings.engines,
                    self.settings.index_drafts, self.settings.indexer_apply_chunk)
                metrics.DOCUMENTS_WRITTEN.labels(doc_type, "upsert").inc(part.upserted)
                metrics.DOCUMENTS_WRITTEN.labels(doc_type, "delete").inc(part.deleted)
                result += part
        return result

    async def _failed(self, entry: Entry, error: str,
                      doc: tuple[DocType, Any] | None = None) -> list[bytes]:
        """Retry `entry` later, or dead-letter it (then its id is returned, to acknowledge)."""
        info = await self.redis.xpending_range(self.stream, GROUP, min=entry.entry_id,
                                               max=entry.entry_id, count=1)
        deliveries = int(info[0]["times_delivered"]) if info else 1
        if deliveries >= self.settings.indexer_max_deliveries:
            await self._dead_letter(entry, error, deliveries, ack=False, doc=doc)
            return [entry.entry_id]
        delay = self.settings.indexer_retry_backoff_ms / 1000 * 2 ** (deliveries - 1)
        self._retry_at[entry.entry_id] = time.monotonic() + delay
        self.stats.retries += 1
        metrics.EVENTS.labels(entry.event_type, "retried").inc()
        log.warning("event %s failed (delivery %d), retrying in %.2fs: %s",
                    entry.entry_id.decode(), deliveries, delay, error,
                    extra={"action": "retry", "entity": entry.event_type})
        return []

    async def _dead_letter(self, entry: Entry, error: str, deliveries: int = 1,
                           ack: bool = True, doc: tuple[DocType, Any] | None = None) -> None:
        """Park the entry in the dead-letter stream with its error and the document it failed
        on, if known (and ack it if asked; otherwise the caller acknowledges it with the rest
        of its batch)."""
        fields: dict[Any, Any] = dict(entry.fields)
        fields.update({"error": error[:2000], "entry_id": entry.entry_id,
                       "deliveries": deliveries, "failed_at": datetime.now(UTC).isoformat()})
        if doc is not None:
            fields.update({"doc_type": doc[0], "doc_id": str(doc[1])})
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(self.dlq, fields)
        if ack:
            pipe.xack(self.stream, GROUP, entry.entry_id)
        await pipe.execute()
        self.stats.dead_lettered += 1
        metrics.EVENTS.labels(entry.event_type, "dead_lettered").inc()
        log.error("event %s dead-lettered after %d deliveries: %s", entry.entry_id.decode(),
                  deliveries, error, extra={"action": "dead_letter", "entity": entry.event_type})

    # ---- loop ---------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; the batch in hand is finished and acknowledged. The
        heartbeat beats from before the first read until the last acknowledgement."""
        finished = asyncio.Event()
        beating = asyncio.create_task(self.liveness.heartbeat(finished), name="heartbeat")
        try:
            await self._consume(stop)
        finally:
            finished.set()
            await beating

    async def _consume(self, stop: asyncio.Event) -> None:
        await self.liveness.beat()
        await self.ensure_group()
        backoff = Backoff()
        while not stop.is_set():
            try:
                entries = await self.read_batch(stop)
                await self.process(entries)
                backoff.reset()
            except TRANSIENT as exc:
                log.warning("backing off %.1fs after an outage: %s", backoff.delay, exc,
                            extra={"action": "outage"})
                await backoff.wait(stop)
            except ResponseError as exc:  # a claim after Redis lost its data
                if "NOGROUP" not in str(exc):
                    raise
                log.warning("the consumer group is gone (Redis lost its data): recreating it",
                            extra={"action": "outage"})
                with contextlib.suppress(*TRANSIENT):
                    await self.ensure_group()  # the relay republishes what was lost
        log.info("consumer %s stopped after %d batches", self.name, self.stats.batches,
                 extra={"action": "consumer_stop"})
