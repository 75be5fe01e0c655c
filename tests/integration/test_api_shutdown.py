"""SIGTERM to a real `rustok-search api` process while a slow request is in flight (a search
waiting for a consistency token no indexer will reach): the request is answered in full, never
reset, and the process exits within API_SHUTDOWN_GRACE_SECONDS."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from typing import Any

import aiohttp
import pytest

from core_write.services import catalog
from core_write.settings import Settings
from core_write.unit import CoreWrite
from search_api.auth import create_key
from tests.api_process import ApiProcess, api_process
from tests.builders import make_tenant
from tests.waiting import wait_until

IN_FLIGHT = re.compile(r"^rustok_api_requests_in_flight (\S+)$", re.M)


async def _in_flight(http: aiohttp.ClientSession, api: ApiProcess) -> int:
    async with http.get(f"{api.url}/metrics") as resp:
        found = IN_FLIGHT.search(await resp.text())
    assert found is not None
    return int(float(found.group(1))) - 1  # less this scrape


async def _stop_during_a_slow_search(settings: Settings, core: CoreWrite, grace: float,
                                     ) -> tuple[int, dict[str, Any], float, int | None]:
    """(status, body, seconds from SIGTERM to exit, exit code) of a token-waiting search
    that is in flight when SIGTERM arrives."""
    tenant = await make_tenant(core)
    key, _ = await create_key(core.pool, tenant["slug"], "search")
    written = await core.call(catalog.create_product, tenant["id"], {
        "title": "Slow teapot", "handle": "slow-teapot", "status": "published"})
    async with api_process(settings, API_SHUTDOWN_GRACE_SECONDS=str(grace),
                           API_REQUEST_TIMEOUT_MS="10000") as api, \
            aiohttp.ClientSession() as http:
        search = asyncio.create_task(http.get(
            f"{api.url}/v1/search/products?q=teapot&min_token={written.token}",
            headers={"Authorization": f"Bearer {key}"}))

        async def waiting() -> bool:
            return await _in_flight(http, api) >= 1

        await wait_until(waiting, timeout=10, what="the search to be in flight")
        api.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        resp = await search  # a reset would raise here
        body = await resp.json(content_type=None)
        await asyncio.wait_for(api.proc.wait(), timeout=grace + 10)
        return resp.status, body, time.monotonic() - signalled, api.proc.returncode


@pytest.mark.slow
async def test_a_request_in_flight_is_answered_before_the_api_exits(
    settings: Settings, core: CoreWrite
) -> None:
    status, body, took, code = await _stop_during_a_slow_search(settings, core, grace=6.0)
    assert status == 200, body
    assert body["stale"] is True and body["backend"] == "postgres"  # waited the full 2 s
    assert code == 0 and took < 6.0


@pytest.mark.slow
async def test_a_request_longer_than_the_grace_gets_a_503_not_a_reset(
    settings: Settings, core: CoreWrite
) -> None:
    # the search would wait 2 s for its token; the grace leaves it 1 s (2 s less the reserve)
    status, body, took, code = await _stop_during_a_slow_search(settings, core, grace=2.0)
    assert status == 503 and body["type"].endswith("/stopping"), body
    assert code == 0 and took < 2.0, took
