"""Consumer liveness: every consumer refreshes a heartbeat key while its process lives, and
the others take over the pending entries of a consumer whose heartbeat expired, seconds after
it died instead of after the claim-idle window (I/O: Redis).

The heartbeat is refreshed by its own task, never by the batch loop, so a consumer busy with
a long batch keeps its entries. A consumer counts as dead only when its key has expired AND
Redis has not seen it read or claim for a whole heartbeat TTL; its entries are then claimed
with XCLAIM and a minimum idle time, so two survivors never take the same entry from each
other, and once it holds nothing it is removed from the group (a Lua script checks and
deletes atomically, so a pending entry is never dropped with it). A consumer restarted under
the same name adopts its own pending entries at its first claim.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from core_write.backoff import pause
from core_write.settings import Settings

log = logging.getLogger(__name__)

# Deletes the consumer only if its heartbeat is still gone and it holds no pending entry.
# KEYS[1] stream, KEYS[2] heartbeat key; ARGV[1] group, ARGV[2] consumer
_FORGET = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2]) + 1
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Liveness:
    """The heartbeat of consumer `name` in `group`, and its watch over the others."""

    def __init__(self, redis: aioredis.Redis, settings: Settings, group: str,
                 name: str) -> None:
        self.redis = redis
        self.stream = settings.stream
        self.group = group
        self.name = name
        self._prefix = settings.key(f"consumer:{group}:")
        self.ttl_ms = settings.indexer_heartbeat_ttl_ms
        self.every = self.ttl_ms / 5000
        """Seconds between two beats and between two looks at the others."""
        self._last_look = -self.every
        self._adopted = False

    def key(self, name: str) -> str:
        """The heartbeat key of consumer `name`."""
        return self._prefix + name

    async def beat(self) -> None:
        await self.redis.set(self.key(self.name), b"1", px=self.ttl_ms)

    async def heartbeat(self, until: asyncio.Event) -> None:
        """Beat every TTL/5 until `until` is set, then remove the key (a stopped consumer
        holds nothing: it acknowledged its last batch)."""
        while not until.is_set():
            try:
                await self.beat()
            except (RedisError, OSError) as exc:  # an outage: nobody can claim meanwhile
                log.warning("heartbeat not refreshed: %s", exc, extra={"action": "heartbeat"})
            await pause(self.every, until)
        with contextlib.suppress(RedisError, OSError):
            await self.redis.delete(self.key(self.name))

    async def dead(self) -> list[str]:
        """Consumers of the group, other than us, whose heartbeat expired and that Redis has
        not seen for a whole TTL."""
        try:
            consumers: list[dict[str, Any]] = await self.redis.xinfo_consumers(
                self.stream, self.group)
        except ResponseError:  # no stream or group yet (or Redis lost them)
            return []
        quiet = [_text(c["name"]) for c in consumers
                 if _text(c["name"]) != self.name and int(c["idle"]) >= self.ttl_ms]
        if not quiet:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for name in quiet:
            pipe.exists(self.key(name))
        alive = await pipe.execute()
        return [name for name, beating in zip(quiet, alive, strict=True) if not beating]

    async def reclaim(self, count: int) -> list[tuple[bytes, Any]]:
        """At most every TTL/5: up to `count` entries of dead consumers (and, the first time,
        our own from an earlier life under this name), now ours; dead consumers left with
        nothing are removed from the group."""
        now = time.monotonic()
        if now - self._last_look < self.every:
            return []
        self._last_look = now
        names = await self.dead()
        if not self._adopted:
            self._adopted = True
            names.insert(0, self.name)
        claimed: list[tuple[bytes, Any]] = []
        for name in names:
            if len(claimed) >= count:
                break
            taken, emptied = await self._take(name, count - len(claimed))
            claimed += taken
            if emptied and name != self.name:
                await self._forget(name)
        return claimed

    async def _take(self, name: str, count: int) -> tuple[list[tuple[bytes, Any]], bool]:
        """Claim up to `count` pending entries of `name`; True when it had no more."""
        pending = await self.redis.xpending_range(self.stream, self.group, min="-", max="+",
                                                  count=count, consumername=name)
        if not pending:
            return [], True
        ids = [p["message_id"] for p in pending]
        # a minimum idle time: an entry another survivor claimed a moment ago stays its own
        min_idle = 0 if name == self.name else int(self.every * 1000)
        entries: list[Any] = await self.redis.xclaim(
            self.stream, self.group, self.name, min_idle_time=min_idle, message_ids=list[Any](ids))
        taken = [e for e in entries if e[1]]
        if taken:
            log.warning("took over %d pending entries of %s consumer %s", len(taken),
                        "our earlier" if name == self.name else "dead", name,
                        extra={"action": "reclaim_dead", "entity": name})
        return taken, len(pending) < count

    async def _forget(self, name: str) -> None:
        removed = await self.redis.eval(
            _FORGET, 2, self.stream, self.key(name), self.group, name)
        if removed:
            log.info("removed dead consumer %s from the group", name,
                     extra={"action": "forget_consumer", "entity": name})
