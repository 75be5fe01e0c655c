"""Progress bars for the long commands (demo load, reindex, verify), drawn with rich on stderr
only when stderr is a terminal: piped or logged output stays free of control characters
(I/O: the terminal).

Long operations report progress in the database (rows written, `index_jobs.done`), so a bar
reads it there with a `poll` coroutine instead of threading a callback through the core code.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

Poll = Callable[[], Awaitable[tuple[int, int]]]
"""Returns (done, total) of the operation being watched."""


def console() -> Console:
    return Console(stderr=True)


def on_terminal() -> bool:
    return sys.stderr.isatty()


def bars(transient: bool = False) -> Progress:
    """A rich Progress on stderr; disabled (draws nothing) when stderr is not a terminal."""
    return Progress(
        TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console(), disable=not on_terminal(), transient=transient)


class Bar:
    """One bar of a `Progress`: set or advance it, optionally with a short note."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self.progress = progress
        self.task = task

    def update(self, done: int, total: int | None = None, note: str = "") -> None:
        if total is not None:
            self.progress.update(self.task, total=total)
        self.progress.update(self.task, completed=done, note=note)

    def advance(self, steps: int = 1, note: str = "") -> None:
        self.progress.update(self.task, advance=steps, note=note)


@contextlib.contextmanager
def bar(description: str, total: int | None) -> Iterator[Bar]:
    with bars() as progress:
        yield Bar(progress, progress.add_task(description, total=total, note=""))


@contextlib.asynccontextmanager
async def polled(description: str, poll: Poll, interval: float = 0.5) -> AsyncIterator[Bar]:
    """A bar updated from `poll()` every `interval` seconds while the body runs, and once more
    at its end (the body may also update it)."""
    with bar(description, None) as shown:
        async def follow() -> None:
            while True:
                with contextlib.suppress(Exception):  # a bar never fails the command
                    done, total = await poll()
                    shown.update(done, total)
                await asyncio.sleep(interval)

        task = asyncio.create_task(follow()) if on_terminal() else None
        try:
            yield shown
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                with contextlib.suppress(Exception):
                    done, total = await poll()
                    shown.update(done, total)
