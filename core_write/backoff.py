"""Waiting inside daemon loops: a pause that ends early when the loop is told to stop (or
woken), and an exponential backoff built on it (no I/O; asyncio only).

Why not `asyncio.sleep`: a loop sleeping through its back-off would ignore SIGTERM for up to
the whole delay. Why not tenacity: these loops run forever and back off between rounds of
work that succeed or fail as a whole, with the delay reset by the next success and cut
short by the stop event; tenacity retries one call until it succeeds and would need a custom
sleep, stop and reset to say the same.
"""

from __future__ import annotations

import asyncio


async def pause(seconds: float | None, *events: asyncio.Event) -> bool:
    """Wait `seconds` (None: without a limit) or until one of `events` is set; True when one
    is set."""
    if any(event.is_set() for event in events):
        return True
    if not events:
        await asyncio.sleep(seconds or 0)
        return False
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        done, _ = await asyncio.wait(waits, timeout=seconds,
                                     return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
    return bool(done)


class Backoff:
    """A delay that doubles after each failure up to `ceiling` and starts again at `first`
    after a success."""

    def __init__(self, first: float = 0.1, ceiling: float = 5.0) -> None:
        self.first = first
        self.ceiling = ceiling
        self.delay = first

    def reset(self) -> None:
        self.delay = self.first

    async def wait(self, *events: asyncio.Event, at_most: float | None = None) -> bool:
        """Pause for the current delay (no longer than `at_most`, e.g. the time left before
        a deadline; ended early by `events`), then double it."""
        delay, self.delay = self.delay, min(self.delay * 2, self.ceiling)
        return await pause(delay if at_most is None else min(delay, at_most), *events)
