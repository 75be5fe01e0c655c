"""A test consumer of the event stream that drops duplicate event ids, as every real consumer
must: reads through the `indexer` group, acknowledges, and survives Redis losing the group."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError


@dataclass
class DedupConsumer:
    redis: aioredis.Redis
    stream: str
    group: str = "indexer"
    name: str = "test-consumer"
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    deliveries: int = 0

    async def poll(self, count: int = 500, block_ms: int = 50) -> int:
        """Read one batch, record new event ids, ack; returns entries read (0 if none)."""
        try:
            reply = await self.redis.xreadgroup(self.group, self.name, {self.stream: ">"},
                                                count=count, block=block_ms)
        except ResponseError as exc:
            if "NOGROUP" in str(exc) or "UNBLOCKED" in str(exc):
                return 0  # Redis lost the group; the relay recreates it
            raise
        entries = [entry for _stream, batch in reply or [] for entry in batch]
        for _entry_id, fields in entries:
            self.deliveries += 1
            event_id = fields[b"id"].decode()
            if event_id not in self.seen:
                self.seen[event_id] = json.loads(fields[b"data"])
                self.order.append(event_id)
        if entries:
            await self.redis.xack(self.stream, self.group, *[e[0] for e in entries])
        return len(entries)
