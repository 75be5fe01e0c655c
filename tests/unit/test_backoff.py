"""The stop-aware pause and backoff of the daemon loops (no I/O)."""

from __future__ import annotations

import asyncio
import time

from core_write.backoff import Backoff, pause


async def test_pause_ends_when_an_event_is_set_or_at_its_timeout() -> None:
    stop, wake = asyncio.Event(), asyncio.Event()
    started = time.monotonic()
    assert await pause(0.05, stop, wake) is False
    assert time.monotonic() - started >= 0.05
    asyncio.get_running_loop().call_later(0.01, wake.set)
    started = time.monotonic()
    assert await pause(30, stop, wake) is True  # woken long before its timeout
    assert time.monotonic() - started < 5
    stop.set()
    assert await pause(None, stop) is True  # already set: no wait at all


async def test_backoff_doubles_to_its_ceiling_and_resets() -> None:
    backoff = Backoff(0.01, 0.03)
    delays = []
    for _ in range(4):
        delays.append(backoff.delay)
        await backoff.wait()
    assert delays == [0.01, 0.02, 0.03, 0.03]
    backoff.reset()
    assert backoff.delay == 0.01
    stop = asyncio.Event()
    stop.set()
    assert await Backoff(60).wait(stop) is True  # a stop cuts the delay short


async def test_backoff_waits_no_longer_than_at_most_and_still_doubles() -> None:
    backoff = Backoff(30, 60)
    started = time.monotonic()
    assert await backoff.wait(at_most=0.01) is False  # e.g. the time left to a deadline
    assert time.monotonic() - started < 5
    assert backoff.delay == 60
