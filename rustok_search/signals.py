"""Turning SIGTERM and SIGINT into an `asyncio.Event` that daemon loops check between batches.

Only entry points install these handlers. A second signal while stopping exits at once, so an
operator is never stuck behind a slow shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

log = logging.getLogger(__name__)


def stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def _handle(signum: int) -> None:
        if stop.is_set():
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            os._exit(130)
        log.info("%s received: finishing the batch in hand", signal.Signals(signum).name,
                 extra={"action": "stop"})
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _handle, signum)
    return stop
