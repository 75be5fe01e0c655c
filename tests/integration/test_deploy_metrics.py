"""Every metric the alert rules and the dashboard query is exported by a running process:
start `rustok-search relay`, `indexer` and `api` as an operator does, make a write searchable,
scrape each process's /metrics over HTTP and compare with deploy/prometheus/alerts.yml and
every deploy/grafana dashboard panel."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from core_write.settings import Settings
from core_write.unit import CoreWrite
from search_api.auth import create_key
from tests.builders import make_product, make_tenant
from tests.unit.test_deploy import (
    SCRAPE_JOBS,
    exposition_names,
    queried_metrics,
    sample_names,
    unexported,
)
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(18200, 18300)  # the range this test may bind
ROLES = tuple(role for role, _ in SCRAPE_JOBS.values())  # relay, indexer, api
TRAFFIC_SERIES = {  # samples the write and the search below must have produced
    "relay": {"rustok_relay_events_published_total"},
    "indexer": {"rustok_indexer_events_total", "rustok_index_lag_seconds_bucket",
                "rustok_indexer_batch_duration_seconds_bucket"},
    "api": {"rustok_api_request_seconds_bucket", "rustok_api_reindex_jobs"},
}


def free_ports(count: int) -> list[int]:
    found: list[int] = []
    for port in PORTS:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise AssertionError(f"fewer than {count} free ports in {PORTS}")


@dataclass
class Service:
    """The three processes, each with the port its /metrics answers on."""

    procs: dict[str, asyncio.subprocess.Process]
    ports: dict[str, int]
    log: Path

    def metrics_url(self, role: str) -> str:
        return f"http://127.0.0.1:{self.ports[role]}/metrics"

    async def scrape(self, http: aiohttp.ClientSession, role: str) -> str | None:
        """The exposition text, or None while the process does not answer yet."""
        assert self.procs[role].returncode is None, f"{role} exited, see {self.log}"
        try:
            async with http.get(self.metrics_url(role)) as resp:
                return await resp.text() if resp.status == 200 else None
        except aiohttp.ClientConnectionError:
            return None


@pytest.fixture
async def service(settings: Settings, tmp_path: Path) -> AsyncIterator[Service]:
    ports = dict(zip(ROLES, free_ports(len(ROLES)), strict=True))
    env = dict(os.environ, DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url,
               RUSTOK_STREAM_PREFIX=settings.stream_prefix, RELAY_POLL_INTERVAL="0.2",
               RELAY_ACK_SYNC_INTERVAL="0.2", API_HOST="127.0.0.1",
               TANTIVY_DIR=str(tmp_path / "tantivy"), RUSTOK_LOG_LEVEL="WARNING")
    env.update({variable: str(ports[role]) for role, variable in SCRAPE_JOBS.values()})
    command = Path(sys.executable).with_name("rustok-search")  # the installed entry point
    log = tmp_path / "processes.log"
    procs: dict[str, asyncio.subprocess.Process] = {}
    with log.open("ab") as stderr:
        for role in ROLES:
            procs[role] = await asyncio.create_subprocess_exec(
                str(command), role, cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr)
    try:
        yield Service(procs, ports, log)
    finally:
        for proc in procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        codes = {role: await asyncio.wait_for(proc.wait(), timeout=30)
                 for role, proc in procs.items()}
        assert codes == dict.fromkeys(ROLES, 0), f"{codes}, see {log}"


@pytest.mark.slow
async def test_alerts_and_panels_query_only_metrics_the_processes_export(
    service: Service, core: CoreWrite
) -> None:
    tenant = await make_tenant(core)
    key, _ = await create_key(core.pool, tenant["slug"], "search")
    await make_product(core, tenant["id"], title="Scrapeable teapot", status="published")
    search_url = f"http://127.0.0.1:{service.ports['api']}/v1/search/products?q=teapot"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        async def all_answer() -> bool:
            return all([await service.scrape(http, role) for role in ROLES])

        await wait_until(all_answer, timeout=60, what="every process to serve /metrics")

        async def searchable() -> bool:  # the write went relay → indexer → Tantivy → API
            async with http.get(search_url, headers={"Authorization": f"Bearer {key}"}) as r:
                return r.status == 200 and (await r.json())["total"] == 1

        await wait_until(searchable, timeout=60, what="the product to become searchable")
        scraped = {role: await service.scrape(http, role) or "" for role in ROLES}

    exported = {job: exposition_names(scraped[role]) for job, (role, _) in SCRAPE_JOBS.items()}
    queried = set().union(*queried_metrics().values())
    assert len(queried) >= 10, queried
    missing = unexported(exported)
    assert not missing, f"queried but not exported by the scraped processes: {missing}"
    for role, series in TRAFFIC_SERIES.items():
        samples = sample_names(scraped[role])
        assert series <= samples, f"{role} has no samples of {series - samples}"
