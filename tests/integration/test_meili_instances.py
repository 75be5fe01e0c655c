"""Several Meilisearch instances against real servers: tenants placed across two, a tenant
moved under concurrent writes and searches, an instance stopped mid-run.

Servers: with `MEILISEARCH_BIN` (a Meilisearch binary) the tests start their own processes on
free ports, in temporary folders, and stop them; without it the first two tests use
`MEILISEARCH_URL` and `MEILISEARCH_URL_2` (with `MEILISEARCH_API_KEY` for both) and the
stopped-instance test, which must stop a server, is skipped. README's "Tests" says more."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from core_write.services import catalog
from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer.consumer import Consumer
from indexer.meili import client as meili
from indexer.meili.config import index_uid, meili_config
from indexer.meili.engine import MeiliIds
from indexer.meili.follower import MeiliFollower
from indexer.meili.placement import Placements, read_placement
from indexer.relay import Relay
from indexer.verify import verify_engine
from rustok_search.cli import build_parser
from rustok_search.engines_cli import cmd_engines_list, cmd_engines_move
from search_api.app import create_app
from search_api.auth import create_key
from search_api.backends.meilisearch import MeilisearchBackend
from search_api.model import SearchQuery
from search_api.scope import SearchScope
from tests.api_fixtures import api_settings
from tests.builders import make_product, make_tenant
from tests.pipeline import Pipeline
from tests.waiting import wait_until

BIN = os.environ.get("MEILISEARCH_BIN", "")
URLS = [u for u in (os.environ.get("MEILISEARCH_URL", ""),
                    os.environ.get("MEILISEARCH_URL_2", "")) if u]
SHARED_KEY = os.environ.get("MEILISEARCH_API_KEY", "")
NO_SERVERS = "no Meilisearch servers: set MEILISEARCH_BIN, or MEILISEARCH_URL and " \
             "MEILISEARCH_URL_2 (see README, Tests)"


@dataclass
class Server:
    url: str
    key: str
    process: subprocess.Popen[bytes] | None = None
    folder: Path | None = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(folder: Path, again: Server | None) -> Server:
    """A Meilisearch process of MEILISEARCH_BIN on a free port, its data and log in
    `folder`; or `again` started anew (same port, key and data)."""
    url = again.url if again else f"http://127.0.0.1:{_free_port()}"
    key = again.key if again else secrets.token_hex(16)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "log").open("ab") as log:
        process = subprocess.Popen(
            [BIN, "--db-path", str(folder / "data"), "--dump-dir", str(folder / "dumps"),
             "--http-addr", url.removeprefix("http://"), "--master-key", key,
             "--no-analytics", "--max-indexing-threads", "1"],
            stdout=log, stderr=subprocess.STDOUT)
    return Server(url, key, process, folder)


async def _start(folder: Path, again: Server | None = None) -> Server:
    """`_spawn`, once it answers /health."""
    server = _spawn(folder, again)
    process = server.process
    assert process is not None

    async def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"meilisearch exited: {(folder / 'log').read_text()[-2000:]}")
        try:
            async with aiohttp.ClientSession() as session, \
                    session.get(f"{server.url}/health", timeout=aiohttp.ClientTimeout(1)) as r:
                return r.status == 200
        except aiohttp.ClientError:
            return False

    try:
        await wait_until(healthy, timeout=60, interval=0.1, what="meilisearch to start")
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[list[Server]]:
    """Two instances: started here (MEILISEARCH_BIN) or the two of the environment."""
    if BIN:
        started: list[Server] = []
        try:
            for name in ("one", "two"):
                started.append(await _start(tmp_path / name))
            yield started
        finally:
            for server in started:
                server.stop()
    elif len(URLS) == 2:
        yield [Server(url, SHARED_KEY) for url in URLS]
    else:
        pytest.skip(NO_SERVERS)


def _settings(settings: Settings, servers: list[Server], **more: Any) -> Settings:
    names = ("east", "west", "north")
    return settings.model_copy(update={
        "engines": ("meilisearch",), "meilisearch_url": "",
        "meilisearch_instances": tuple((names[i], s.url) for i, s in enumerate(servers)),
        "meilisearch_api_keys": tuple((names[i], s.key) for i, s in enumerate(servers)),
        "meilisearch_index_prefix": f"mi{uuid.uuid4().hex[:10]}",
        "meilisearch_placement_ttl_ms": 500, "tantivy_currencies": ("EUR", "USD"),
        **more})


@contextlib.asynccontextmanager
async def _follower(core: CoreWrite, redis: aioredis.Redis, conf: Settings,
                    ) -> AsyncIterator[MeiliFollower]:
    config = meili_config(conf)
    async with meili.open_client(config) as client:
        follower = MeiliFollower(core.pool, redis, client, config, conf.stream_prefix)
        try:
            yield follower
        finally:
            for server in follower.servers.values():  # this test's indexes only
                with contextlib.suppress(Exception):
                    for index in await server.client.get_indexes(limit=1000) or []:
                        if index.uid.startswith(config.prefix + "_"):
                            await server.client.index(index.uid).delete()
            await follower.close()


async def _pipeline(core: CoreWrite, redis: aioredis.Redis, conf: Settings) -> Pipeline:
    line = Pipeline(Relay(core.pool, redis, conf), Consumer(core.pool, redis, conf))
    await line.start()
    return line


async def _drain(follower: MeiliFollower) -> None:
    while await follower.drain_once():
        pass


async def _uids(follower: MeiliFollower, name: str) -> set[str]:
    prefix = follower.config.prefix + "_"
    return {i.uid for i in await follower.servers[name].client.get_indexes(limit=1000) or []
            if i.uid.startswith(prefix)}


async def _no_drift(core: CoreWrite, conf: Settings, tenants: list[uuid.UUID]) -> None:
    ids = MeiliIds(conf, core.pool)
    try:
        for doc_type in ("product", "content"):
            drift = await verify_engine(core.pool, ids, doc_type, tenants)
            assert drift.total == 0, drift.summary()
    finally:
        await ids.close()


async def test_tenants_are_placed_across_two_instances(
    settings: Settings, core: CoreWrite, redis_client: aioredis.Redis, servers: list[Server],
) -> None:
    conf = _settings(settings, servers)
    line = await _pipeline(core, redis_client, conf)
    async with _follower(core, redis_client, conf) as follower:
        assert await follower.start() == []
        shops = []
        for number in range(3):  # placed on first write: east, west, east (fewest tenants)
            shop = await make_tenant(core)
            for i in range(2):
                await make_product(core, shop["id"], title=f"Linen shirt {number}-{i}",
                                   status="published")
            await line.settle()
            await _drain(follower)
            shops.append(shop)
        placed = [(await read_placement(core.pool, s["id"])) for s in shops]
        assert [p.instance for p in placed if p] == ["east", "west", "east"]
        assert await follower.placements.tenants() == {"east": 2, "west": 1}
        for shop, placement in zip(shops, placed, strict=True):
            assert placement is not None
            uid = index_uid(follower.config.prefix, shop["id"], "product")
            here, there = ("east", "west") if placement.instance == "east" else ("west", "east")
            assert uid in await _uids(follower, here)
            assert uid not in await _uids(follower, there)
        await _no_drift(core, conf, [s["id"] for s in shops])
        config = meili_config(conf)
        async with MeilisearchBackend(config, placements=Placements(
                core.pool, redis_client, conf.stream_prefix, config)) as backend:
            for number, shop in enumerate(shops):
                found = await backend.search(SearchQuery(q="linen"),
                                             SearchScope(tenant_id=shop["id"]))
                assert sorted(h.document["title"] for h in found.hits) == [
                    f"Linen shirt {number}-0", f"Linen shirt {number}-1"]
        # a restarted follower finds the same placements and nothing to rebuild, and deletes
        # a copy left on an instance the tenant is not served from (a move whose old
        # instance was down)
        leftover = index_uid(follower.config.prefix, shops[0]["id"], "product")
        await follower.servers["west"].indexes.create(leftover, "product")
        async with meili.open_client(config) as client:
            again = MeiliFollower(core.pool, redis_client, client, config, conf.stream_prefix)
            try:
                assert await again.start() == []
                assert await again.placements.tenants() == {"east": 2, "west": 1}
            finally:
                await again.close()
        assert leftover not in await _uids(follower, "west")
        assert leftover in await _uids(follower, "east")


async def test_a_tenant_moves_under_writes_and_searches_without_a_failed_search(
    settings: Settings, core: CoreWrite, redis_client: aioredis.Redis, servers: list[Server],
    capsys: pytest.CaptureFixture[str],
) -> None:
    conf = _settings(settings, servers)
    line = await _pipeline(core, redis_client, conf)
    shop, other = await make_tenant(core), await make_tenant(core)
    products = [await make_product(core, shop["id"], title=f"Wool coat {i}",
                                   status="published") for i in range(120)]
    await make_product(core, other["id"], title="Wool coat elsewhere", status="published")
    await line.settle()
    config = meili_config(conf)
    stop = asyncio.Event()
    failures: list[BaseException] = []
    searched: list[tuple[float, int]] = []
    written: list[float] = []
    async with _follower(core, redis_client, conf) as follower, \
            MeilisearchBackend(config, placements=Placements(
                core.pool, redis_client, conf.stream_prefix, config)) as backend:
        await follower.start()
        await _drain(follower)
        assert (await read_placement(core.pool, shop["id"])).instance == "east"  # type: ignore[union-attr]
        running = asyncio.create_task(follower.run(stop))

        async def search() -> None:
            while not stop.is_set():
                try:
                    found = await backend.search(SearchQuery(q="wool", per_page=5),
                                                 SearchScope(tenant_id=shop["id"]))
                    searched.append((time.monotonic(), found.total))
                    assert found.total >= 100, found.total
                except Exception as exc:  # noqa: BLE001 - every failure is reported
                    failures.append(exc)
                await asyncio.sleep(0.02)

        async def write() -> None:
            number = 0
            while not stop.is_set():
                number += 1
                target = products[number % len(products)]
                await core.call(catalog.update_product, shop["id"], target["id"],
                                {"title": f"Wool coat {number % len(products)} v{number}"})
                if number % 10 == 0:
                    products.append(await make_product(core, shop["id"],
                                                       title=f"Wool coat new {number}",
                                                       status="published"))
                if number % 15 == 0:
                    gone = products.pop(0)
                    await core.call(catalog.delete_product, shop["id"], gone["id"])
                await line.settle()
                written.append(time.monotonic())
                follower.wake()

        tasks = [asyncio.create_task(search()), asyncio.create_task(write())]
        try:
            async def searching() -> bool:
                return len(searched) > 5

            await wait_until(searching, what="searches before the move")
            args = build_parser().parse_args(["engines", "move", "--tenant", shop["slug"],
                                              "--to", "west", "--no-wait"])
            assert await cmd_engines_move(args, conf) == 0
            moves = await follower.moves()
            assert [(m.tenant_id, m.instance, m.target) for m in moves] == [
                (shop["id"], "east", "west")]
            started = time.monotonic()
            loaded = await follower.move(moves[0])
            assert loaded >= 120
            moved = time.monotonic()
            assert any(started < t < moved for t in written)  # writes arrived meanwhile
            assert any(started < t < moved for t, _ in searched)  # and searches were answered
            async def searched_after() -> bool:
                return any(t > started + 1 for t, _ in searched) or bool(failures)

            await wait_until(searched_after, what="searches after the move")
        finally:
            stop.set()
            await asyncio.gather(*tasks, running)
        assert failures == []
        await line.settle()
        await _drain(follower)
        placement = await read_placement(core.pool, shop["id"])
        assert placement is not None and (placement.instance, placement.state) == ("west",
                                                                                    "placed")
        uid = index_uid(config.prefix, shop["id"], "product")
        assert uid in await _uids(follower, "west")
        assert uid not in await _uids(follower, "east")  # the old copy is deleted
        assert not any(u.endswith("__next") for u in await _uids(follower, "west"))
        await _no_drift(core, conf, [shop["id"], other["id"]])
        found = await backend.search(SearchQuery(q="wool", per_page=1),
                                     SearchScope(tenant_id=shop["id"]))
        assert found.total == len(products)
        capsys.readouterr()
        assert await cmd_engines_list(build_parser().parse_args(["engines", "list"]),
                                      conf) == 0
        listing = capsys.readouterr().out
        assert "east" in listing and "west" in listing and "up" in listing


@pytest.fixture
async def victim(tmp_path: Path) -> AsyncIterator[list[Server]]:
    """Two instances started here; the test stops the second."""
    if not BIN:
        pytest.skip("stopping an instance needs MEILISEARCH_BIN (the test starts and stops "
                    "its own servers)")
    started: list[Server] = []
    try:
        for name in ("stays", "stops"):
            started.append(await _start(tmp_path / name))
        yield started
    finally:
        for server in started:
            server.stop()


async def test_a_stopped_instance_fails_only_its_tenants_fast(
    settings: Settings, core: CoreWrite, redis_client: aioredis.Redis, victim: list[Server],
) -> None:
    conf = _settings(settings, victim)
    line = await _pipeline(core, redis_client, conf)
    async with _follower(core, redis_client, conf) as follower:
        await follower.start()
        east, west = await make_tenant(core), await make_tenant(core)
        for shop in (east, west):  # placed east, then west
            await make_product(core, shop["id"], title="Silk scarf", status="published")
            await line.settle()
            await _drain(follower)
        keys = {s["slug"]: (await create_key(core.pool, s["slug"], "search"))[0]
                for s in (east, west)}
        operator, _ = await create_key(core.pool, None, "operator")
        victim[1].stop()
        for fallback in ("", "postgres"):
            api = api_settings(conf, search_backend="meilisearch",
                               search_backend_fallback=fallback)
            client: TestClient[Any, Any] = TestClient(TestServer(create_app(api)))
            await client.start_server()
            try:
                for _ in range(3):
                    started = time.monotonic()
                    resp = await client.get("/v1/search/products?q=silk", headers={
                        "Authorization": f"Bearer {keys[west['slug']]}"})
                    took = time.monotonic() - started
                    body = await resp.json(content_type=None)
                    if fallback:
                        assert resp.status == 200 and body["backend"] == "postgres"
                        assert body["total"] == 1
                    else:
                        assert resp.status == 503, body
                        assert resp.content_type == "application/problem+json"
                        assert "meilisearch instance west" in body["detail"]
                    assert took < 1.0, took
                    resp = await client.get("/v1/search/products?q=silk", headers={
                        "Authorization": f"Bearer {keys[east['slug']]}"})
                    body = await resp.json()
                    assert resp.status == 200 and body["backend"] == "meilisearch"
                    assert body["total"] == 1
                resp = await client.get("/readyz")
                ready = await resp.json()
                assert resp.status == 200, ready
                instances = ready["checks"]["backend"]["instances"]
                assert instances["east"]["ok"] and not instances["west"]["ok"]
                assert (instances["east"]["tenants"], instances["west"]["tenants"]) == (1, 1)
                metrics = await (await client.get("/metrics")).text()
                assert 'rustok_api_meili_instance_up{instance="west"} 0.0' in metrics
                assert 'rustok_api_meili_instance_up{instance="east"} 1.0' in metrics
                listed = await (await client.get("/v1/admin/engines", headers={
                    "Authorization": f"Bearer {operator}"})).json()
                assert [(i["name"], i["ok"], i["tenants"]) for i in listed["instances"]] == [
                    ("east", True, 1), ("west", False, 1)]
                resp = await client.post("/v1/admin/engines/move", json={
                    "tenant": west["slug"], "to": "nowhere"}, headers={
                    "Authorization": f"Bearer {operator}"})
                assert resp.status == 422 and "nowhere" in (await resp.json())["detail"]
            finally:
                await client.close()
        # the follower keeps writing the instance that answers; the other's rows wait
        await core.call(catalog.update_product, east["id"],
                        (await core.pool.fetchval("SELECT product_id FROM index_products "
                                                  "WHERE tenant_id = $1", east["id"])),
                        {"title": "Silk scarf blue"})
        await make_product(core, west["id"], title="Silk tie", status="published")
        await line.settle()
        await follower.drain_once()
        waiting = await core.pool.fetch("SELECT tenant_id FROM engine_queue")
        assert {r["tenant_id"] for r in waiting} == {west["id"]}
        await _no_drift(core, conf, [east["id"]])
        # an engine writer starting now finds one instance down and starts anyway
        config = meili_config(conf)
        async with meili.open_client(config) as first:
            again = MeiliFollower(core.pool, redis_client, first, config, conf.stream_prefix)
            try:
                assert await again.start() == []
                assert again.servers["west"].down_until > 0
            finally:
                await again.close()
        # the instance comes back: the rows it missed are applied and a running API, which
        # stopped asking it, serves its tenants again once its probe gets an answer
        api = api_settings(conf, search_backend="meilisearch")
        client = TestClient(TestServer(create_app(api)))
        await client.start_server()
        try:

            async def west_search() -> tuple[int, Any]:
                resp = await client.get("/v1/search/products?q=silk", headers={
                    "Authorization": f"Bearer {keys[west['slug']]}"})
                return resp.status, await resp.json(content_type=None)

            assert (await west_search())[0] == 503
            assert victim[1].folder is not None
            victim[1] = await _start(victim[1].folder, victim[1])

            async def caught_up() -> bool:
                await follower.drain_once()
                return not await core.pool.fetchval("SELECT count(*) FROM engine_queue")

            await wait_until(caught_up, timeout=30, interval=0.2, what="the queued rows")
            await _no_drift(core, conf, [east["id"], west["id"]])

            async def served() -> bool:
                return (await west_search())[0] == 200

            await wait_until(served, timeout=10, interval=0.1, what="west searched again")
            body = (await west_search())[1]
            assert body["backend"] == "meilisearch"
            assert sorted(h["document"]["title"] for h in body["hits"]) == ["Silk scarf",
                                                                            "Silk tie"]
        finally:
            await client.close()
