"""A bench's tasks end on the way out even when one swallows a cancellation (as redis-py's
`get_message` can), and a task that never ends is named, not waited for forever."""

from __future__ import annotations

import asyncio

from bench.lifecycle import stop_tasks


async def _swallowing(times: int) -> None:
    """Ignores its first `times` cancellations."""
    for _ in range(times):
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass
    await asyncio.Event().wait()


async def test_a_task_that_swallows_a_cancel_is_cancelled_again() -> None:
    tasks = [asyncio.create_task(_swallowing(n), name=f"swallows-{n}") for n in range(3)]
    await asyncio.sleep(0)  # let them reach their first wait
    assert await stop_tasks(tasks, timeout=10) == []
    assert all(task.cancelled() for task in tasks)


async def test_a_task_that_never_ends_is_named_and_left() -> None:
    released = asyncio.Event()

    async def stubborn() -> None:
        while not released.is_set():
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                pass

    task = asyncio.create_task(stubborn(), name="stubborn")
    done = asyncio.create_task(asyncio.sleep(0), name="done")
    await asyncio.sleep(0)
    assert await stop_tasks([task, done], timeout=0.2) == ["stubborn"]
    released.set()
    task.cancel()
    await asyncio.wait({task}, timeout=5)
    assert task.done()


async def test_a_failed_task_does_not_raise_on_the_way_out() -> None:
    async def fails() -> None:
        raise ValueError("boom")

    task = asyncio.create_task(fails(), name="fails")
    await asyncio.wait({task}, timeout=5)
    assert await stop_tasks([task]) == []
