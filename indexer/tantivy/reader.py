"""Read access to the Tantivy indexes for processes other than the writer (I/O: the index
directories, Redis).

A tantivy reader in another process sees a commit only after `index.reload()` (otherwise
after its ~500 ms file poll). The writer INCRs `{prefix}:tantivy:{doc_type}:commits` and
PUBLISHes on `{prefix}:tantivy:commits` after each commit; this reader wakes on the message,
reads the counters (also every poll interval, in case a message is missed) and reloads the
doc type whose counter moved, reopening it when CURRENT names another generation. CURRENT
is also re-read every `_CURRENT_CHECK` seconds so a lost Redis costs freshness, not
correctness. Searches are the API backend's (`search_api.backends.tantivy`, over `index`);
the one query here, `ids` for verify, runs in a thread through `query.tenant_scoped`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import tantivy
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from core_write.backoff import Backoff, pause
from core_write.errors import ValidationFailed
from indexer.digest import Copy, content_digest
from indexer.model import DOC_TYPES, DocType
from indexer.tantivy.config import TantivyConfig, commit_channel, commit_counter_key
from indexer.tantivy.errors import TantivyError
from indexer.tantivy.query import tenant_scoped
from indexer.tantivy.schema import stored_values
from indexer.tantivy.store import GenerationStore

log = logging.getLogger(__name__)

_CURRENT_CHECK = 0.5


@dataclass(frozen=True)
class _View:
    name: str
    index: tantivy.Index


class TantivyReader:
    def __init__(
        self, config: TantivyConfig, redis: aioredis.Redis, stream_prefix: str
    ) -> None:
        self.config = config
        self.redis = redis
        self.stores = {dt: GenerationStore(config.index_dir, dt, config.currencies)
                       for dt in DOC_TYPES}
        self._keys = [commit_counter_key(stream_prefix, dt) for dt in DOC_TYPES]
        self._channel = commit_channel(stream_prefix)
        self._views: dict[DocType, _View] = {}
        self._seen: dict[DocType, bytes | str | None] = {}
        self._checked_current = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.reloads = 0
        self.reopens = 0

    # ---- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Open the live generations and follow the writer's commits in the background."""
        await self.refresh(force=True)
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._follow(), name="tantivy-reader")

    async def close(self) -> None:
        """Stop following commits. redis-py's `get_message` can swallow a cancellation that
        lands while its read timeout fires, so the loop also checks a stop event (which ends
        its pauses too) and the cancel is repeated until the task has ended."""
        task, self._task = self._task, None
        if task is not None:
            self._stop.set()
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=0.5)
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.release()

    def release(self) -> None:
        """Let go of the open indexes (a later query reopens nothing until `refresh`)."""
        self._views.clear()
        self._seen.clear()

    async def __aenter__(self) -> TantivyReader:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def generation(self, doc_type: DocType) -> str | None:
        view = self._views.get(doc_type)
        return view.name if view else None

    async def refresh(self, force: bool = False) -> None:
        """Reload every doc type whose commit counter moved; reopen on a new CURRENT. Without
        Redis, every doc type is reloaded each `_CURRENT_CHECK` seconds instead."""
        redis_ok = True
        try:
            counters: list[bytes | str | None] = list(await self.redis.mget(self._keys))
        except (RedisError, OSError) as exc:
            redis_ok = False
            log.warning("cannot read the tantivy commit counters: %s", exc,
                        extra={"action": "tantivy_reader_redis"})
            counters = [self._seen.get(dt) for dt in DOC_TYPES]
        check_current = force or time.monotonic() - self._checked_current >= _CURRENT_CHECK
        for doc_type, counter in zip(DOC_TYPES, counters, strict=True):
            moved = counter != self._seen.get(doc_type, b"")
            if force or moved or check_current or doc_type not in self._views:
                reload = force or moved or (check_current and not redis_ok)
                await asyncio.to_thread(self._refresh_one, doc_type, reload)
                self._seen[doc_type] = counter
        if check_current:
            self._checked_current = time.monotonic()

    def _refresh_one(self, doc_type: DocType, reload: bool) -> None:
        store = self.stores[doc_type]
        name = store.current()
        view = self._views.get(doc_type)
        if name is None:
            return
        if view is None or view.name != name:
            # opened fully before it replaces the old view: a search sees one or the other
            self._views[doc_type] = _View(name, store.open_generation(name))
            self.reopens += 1
        elif reload:
            view.index.reload()
            self.reloads += 1

    async def _follow(self) -> None:
        pubsub: PubSub | None = None
        backoff = Backoff(self.config.poll_interval, 2.0)  # reconnecting, not synchronizing
        try:
            while not self._stop.is_set():
                try:
                    if pubsub is None:
                        pubsub = self.redis.pubsub()
                        await pubsub.subscribe(self._channel)
                    # a message wakes us at once; otherwise the counters are polled
                    await pubsub.get_message(ignore_subscribe_messages=True,
                                             timeout=self.config.poll_interval)
                    backoff.reset()
                except (RedisError, OSError) as exc:
                    log.warning("tantivy commit channel unavailable (%s)", exc,
                                extra={"action": "tantivy_reader_redis"})
                    await _close(pubsub)
                    pubsub = None
                    await backoff.wait(self._stop)
                try:
                    await self.refresh()
                except (TantivyError, ValueError, OSError) as exc:
                    log.warning("tantivy reader refresh failed (%s); retrying", exc,
                                extra={"action": "tantivy_reader_refresh"})
                    await pause(_CURRENT_CHECK, self._stop)  # retry backoff
        finally:
            await _close(pubsub)

    # ---- queries (all scoped to one tenant) ----------------------------------------------
    def _view(self, doc_type: DocType) -> _View | None:
        """The open generation of `doc_type`; None before the writer created one."""
        if doc_type not in DOC_TYPES:
            raise ValidationFailed("doc_type", f"must be one of {', '.join(DOC_TYPES)}")
        return self._views.get(doc_type)

    def index(self, doc_type: DocType) -> tantivy.Index | None:
        """The open index of `doc_type` (for callers building their own tenant-scoped
        queries, e.g. search_api.backends.tantivy); None before a generation exists."""
        view = self._view(doc_type)
        return view.index if view else None

    async def ids(self, tenant_id: Any, *, doc_type: DocType = "product") -> dict[str, int]:
        """Every doc id of the tenant → its version (for `verify`)."""
        view = self._view(doc_type)
        if view is None:
            return {}
        query = tenant_scoped(view.index.schema, tenant_id, tantivy.Query.all_query())
        return await asyncio.to_thread(_versions, view.index, query)

    async def copies(self, tenant_id: Any, *, doc_type: DocType) -> dict[str, Copy]:
        """Every doc id of the tenant → (version, digest of its stored fields), for `verify`."""
        view = self._view(doc_type)
        if view is None:
            return {}
        query = tenant_scoped(view.index.schema, tenant_id, tantivy.Query.all_query())
        return await asyncio.to_thread(_versions, view.index, query, doc_type)


def _versions(index: tantivy.Index, query: tantivy.Query,
              doc_type: DocType | None = None) -> dict[str, Any]:
    """id -> version of every match; with `doc_type`, id -> (version, content digest)."""
    searcher = index.searcher()
    counted: Any = searcher.search(query, 1, count=True)
    total = int(counted.count or 0)
    if total == 0:
        return {}
    out: dict[str, Any] = {}
    for _, address in searcher.search(query, total, count=False).hits:
        doc = searcher.doc(address)
        version = int(doc.get_first("version") or 0)
        out[str(doc.get_first("id"))] = version if doc_type is None else (
            version, content_digest(stored_values(doc_type, doc.to_dict())))
    return out


async def _close(pubsub: PubSub | None) -> None:
    if pubsub is not None:
        with contextlib.suppress(RedisError, OSError):
            await pubsub.aclose()  # type: ignore[no-untyped-call]
