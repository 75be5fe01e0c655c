"""Drives relay and consumer in the test process until every committed event is indexed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from indexer.consumer import Consumer
from indexer.relay import Relay


@dataclass
class Pipeline:
    relay: Relay
    consumer: Consumer

    async def start(self) -> None:
        async with self.relay.pool.acquire() as conn:
            await self.relay.recover(conn)
        await self.consumer.ensure_group()

    async def settle(self) -> int:
        """Publish every committed event, then consume until the stream holds nothing new;
        returns the number of entries processed."""
        while await self.relay.publish_batch():
            pass
        no_wait = asyncio.Event()
        no_wait.set()
        handled = 0
        while True:
            entries = await self.consumer.read_batch(no_wait)
            if not entries:
                return handled
            await self.consumer.process(entries)
            handled += len(entries)
