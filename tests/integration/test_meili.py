"""The Meilisearch engine against real servers. Start-up errors (an unreachable URL, the
PostgreSQL fallback of the API) run everywhere: nothing listens on the port they use. The
follower, verify, rebuild and settings tests need a real Meilisearch at `MEILISEARCH_URL`
(with `MEILISEARCH_API_KEY` if it has a master key) and are skipped without one; README's
"Tests" section says how to run them."""

from __future__ import annotations

import argparse
import os
import socket
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from core_write.errors import Unavailable
from core_write.services import catalog
from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer.consumer import Consumer
from indexer.meili import client as meili
from indexer.meili.config import NEXT, MeiliConfig, index_uid, meili_config
from indexer.meili.documents import index_settings
from indexer.meili.engine import MeiliIds
from indexer.meili.follower import MeiliFollower
from indexer.model import DocType
from indexer.model.relevance import SearchSettings
from indexer.relay import Relay
from rustok_search.cli import build_parser, cmd_reindex, cmd_verify
from search_api import relevance_store as store
from search_api.app import create_app
from search_api.auth import create_key
from search_api.backends.meilisearch import MeilisearchBackend
from search_api.model import SearchQuery
from search_api.scope import SearchScope
from search_api.wiring import BACKEND
from tests.api_fixtures import api_settings
from tests.builders import make_product, make_tenant
from tests.pipeline import Pipeline

MEILISEARCH_URL = os.environ.get("MEILISEARCH_URL", "")
needs_server = pytest.mark.skipif(
    not MEILISEARCH_URL, reason="MEILISEARCH_URL is not set: no Meilisearch server to test "
                                "against (see README, Tests)")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


# ---- start-up errors (no server needed) ---------------------------------------------------
async def test_an_unreachable_url_is_named() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    config = MeiliConfig(url=url, timeout_ms=1000)
    async with meili.open_client(config) as client:
        with pytest.raises(meili.MeiliUnavailable,
                           match=f"cannot reach Meilisearch at MEILISEARCH_URL={url}"):
            await meili.check(client, config)


async def test_a_search_against_an_unreachable_url_is_unavailable_and_says_where() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    backend = MeilisearchBackend(MeiliConfig(url=url, timeout_ms=1000))
    try:
        with pytest.raises(Unavailable, match=f"cannot reach Meilisearch at MEILISEARCH_URL="
                                              f"{url}"):
            await backend.search(SearchQuery(q="boots"), SearchScope(tenant_id=uuid.uuid4()))
    finally:
        await backend.__aexit__()


async def test_the_api_serves_from_postgres_when_told_to_fall_back(
    settings: Settings, core: CoreWrite
) -> None:
    tenant = await make_tenant(core)
    key, _ = await create_key(core.pool, tenant["slug"], "search")
    conf = api_settings(settings, search_backend="meilisearch",
                        meilisearch_url=f"http://127.0.0.1:{_closed_port()}",
                        meilisearch_timeout_ms=1000, search_backend_fallback="postgres")
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(conf)))
    await client.start_server()
    try:
        assert client.app[BACKEND].name == "postgres"
        resp = await client.get("/v1/search/products?q=boots",
                                headers={"Authorization": f"Bearer {key}"})
        assert resp.status == 200 and (await resp.json())["backend"] == "postgres"
    finally:
        await client.close()


async def test_the_api_refuses_to_start_without_a_fallback(settings: Settings) -> None:
    conf = api_settings(settings, search_backend="meilisearch",
                        meilisearch_url=f"http://127.0.0.1:{_closed_port()}",
                        meilisearch_timeout_ms=1000, search_backend_fallback="")
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(conf)))
    with pytest.raises(meili.MeiliUnavailable, match="cannot reach Meilisearch"):
        await client.start_server()
    await client.close()


async def test_reindex_engine_marks_indexes_that_the_follower_then_rebuilds(
    settings: Settings, core: CoreWrite, redis_client: aioredis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shop, other = await make_tenant(core), await make_tenant(core)
    await make_tenant(core)  # no documents: no index to rebuild
    for tenant in (shop, other):
        await make_product(core, tenant["id"])
    line = await _pipeline(core, redis_client, settings)
    await line.settle()
    conf = settings.model_copy(update={
        "engines": ("meilisearch",), "meilisearch_url": f"http://127.0.0.1:{_closed_port()}",
        "meilisearch_index_prefix": "marks"})
    args = build_parser().parse_args(["reindex", "--engine", "meilisearch", "--tenant",
                                      shop["slug"]])
    assert await cmd_reindex(args, conf) == 0
    assert "1 meilisearch index(es) marked" in capsys.readouterr().out
    args = build_parser().parse_args(["reindex", "--engine", "meilisearch"])
    assert await cmd_reindex(args, conf) == 0
    config = meili_config(conf)
    async with meili.open_client(config) as client:  # never called: marks live in Postgres
        follower = MeiliFollower(core.pool, redis_client, client, config, conf.stream_prefix)
        assert sorted(await follower.outdated()) == sorted(
            [(shop["id"], "product"), (other["id"], "product")])
    rows = await core.pool.fetch("SELECT uid FROM engine_indexes ORDER BY uid")
    assert sorted(r["uid"] for r in rows) == sorted(
        index_uid("marks", t["id"], "product") for t in (shop, other))
    no_engine = build_parser().parse_args(["reindex", "--engine", "meilisearch"])
    assert await cmd_reindex(no_engine, settings.model_copy(update={"engines": ()})) == 2


# ---- against a real server ------------------------------------------------------------------
@pytest.fixture
def meili_settings(settings: Settings) -> Settings:
    prefix = f"rt{uuid.uuid4().hex[:10]}"
    return settings.model_copy(update={
        "engines": ("meilisearch",), "meilisearch_url": MEILISEARCH_URL,
        "meilisearch_api_key": os.environ.get("MEILISEARCH_API_KEY", ""),
        "meilisearch_index_prefix": prefix, "tantivy_currencies": ("EUR", "USD")})


@pytest.fixture
async def follower(meili_settings: Settings, core: CoreWrite, redis_client: aioredis.Redis,
                   ) -> AsyncIterator[MeiliFollower]:
    config = meili_config(meili_settings)
    async with meili.open_client(config) as client:
        yield MeiliFollower(core.pool, redis_client, client, config,
                            meili_settings.stream_prefix)
        for index in await client.get_indexes(limit=1000) or []:
            if index.uid.startswith(config.prefix + "_"):
                await client.index(index.uid).delete()


async def _pipeline(core: CoreWrite, redis: aioredis.Redis, settings: Settings) -> Pipeline:
    line = Pipeline(Relay(core.pool, redis, settings), Consumer(core.pool, redis, settings))
    await line.start()
    return line


async def _drain(follower: MeiliFollower) -> None:
    while await follower.drain_once():
        pass


async def _shop(core: CoreWrite, redis: aioredis.Redis, settings: Settings,
                *titles: str) -> dict[str, Any]:
    """A tenant with published products of these titles, indexed (engine rows queued)."""
    line = await _pipeline(core, redis, settings)
    shop = await make_tenant(core)
    for title in titles:
        await make_product(core, shop["id"], title=title, status="published")
    await line.settle()
    return shop


async def _meili_versions(settings: Settings, tenant: uuid.UUID) -> dict[str, int]:
    ids = MeiliIds(settings)
    try:
        return dict(await ids.versions("product", tenant))
    finally:
        await ids.close()


async def _versions(core: CoreWrite, tenant: uuid.UUID) -> dict[str, int]:
    rows = await core.pool.fetch(
        "SELECT product_id, version FROM index_products WHERE tenant_id = $1", tenant)
    return {str(r["product_id"]): r["version"] for r in rows}


@needs_server
async def test_a_wrong_key_is_named(meili_settings: Settings) -> None:
    if not meili_settings.meilisearch_api_key:
        pytest.skip("the server runs without a master key: every key is accepted")
    config = MeiliConfig(url=MEILISEARCH_URL, api_key="wrong-key")
    async with meili.open_client(config) as client:
        with pytest.raises(meili.MeiliUnavailable, match="MEILISEARCH_API_KEY is not accepted"):
            await meili.check(client, config)


@needs_server
async def test_a_search_with_a_refused_key_is_unavailable_with_the_servers_reason(
    meili_settings: Settings,
) -> None:
    if not meili_settings.meilisearch_api_key:
        pytest.skip("the server runs without a master key: every key is accepted")
    backend = MeilisearchBackend(MeiliConfig(url=MEILISEARCH_URL, api_key="wrong-key"))
    try:
        with pytest.raises(Unavailable, match=r"refused the query \(invalid_api_key\)"):
            await backend.search(SearchQuery(q="boots"), SearchScope(tenant_id=uuid.uuid4()))
        # an index that does not exist yet (nothing indexed for the tenant) is no error
        right = MeilisearchBackend(meili_config(meili_settings))
        empty = await right.search(SearchQuery(q="boots", facets=["tags"]),
                                   SearchScope(tenant_id=uuid.uuid4()))
        assert (empty.total, empty.facets) == (0, {"tags": {}})
        await right.__aexit__()
    finally:
        await backend.__aexit__()


@needs_server
async def test_the_follower_converges_per_tenant_and_deletes(
    meili_settings: Settings, core: CoreWrite, redis_client: aioredis.Redis,
    follower: MeiliFollower,
) -> None:
    line = await _pipeline(core, redis_client, meili_settings)
    assert await follower.indexes.start() == []  # no documents yet: nothing to rebuild
    shop, other = await make_tenant(core), await make_tenant(core)
    mine = [await make_product(core, shop["id"], title=f"Leather boots {i}",
                               status="published") for i in range(3)]
    await make_product(core, other["id"], title="Leather boots elsewhere", status="published")
    await line.settle()
    await _drain(follower)  # the indexes are created on first use
    ids = MeiliIds(meili_settings)
    try:
        for tenant in (shop["id"], other["id"]):
            assert await ids.versions("product", tenant) == await _versions(core, tenant)
        backend = MeilisearchBackend(meili_config(meili_settings))
        found = await backend.search(SearchQuery(q="lether"), SearchScope(tenant_id=shop["id"]))
        assert {h.id for h in found.hits} == {p["id"] for p in mine}
        await core.call(catalog.delete_product, shop["id"], mine[0]["id"])
        await line.settle()
        await _drain(follower)
        assert set(await ids.versions("product", shop["id"])) == {
            str(p["id"]) for p in mine[1:]}
    finally:
        await ids.close()


@needs_server
async def test_a_rebuild_swaps_in_a_complete_index(
    meili_settings: Settings, core: CoreWrite, redis_client: aioredis.Redis,
    follower: MeiliFollower,
) -> None:
    shop = await _shop(core, redis_client, meili_settings, *(f"Wool hat {i}" for i in range(5)))
    await core.pool.execute("DELETE FROM engine_queue")  # as if Meilisearch came later
    assert await follower.indexes.start() == [(shop["id"], "product")]
    assert await follower.rebuild(shop["id"], "product") == 5
    uid = index_uid(follower.config.prefix, shop["id"], "product")
    assert await follower.client.get_raw_index(uid + NEXT) is None
    assert await _meili_versions(meili_settings, shop["id"]) == await _versions(core,
                                                                                shop["id"])
    assert await follower.indexes.start() == []  # recorded with the current shape


@needs_server
async def test_a_rebuild_of_many_pages_loads_them_all_and_names_the_refused_one(
    meili_settings: Settings, core: CoreWrite, redis_client: aioredis.Redis,
    follower: MeiliFollower, monkeypatch: pytest.MonkeyPatch,
) -> None:
    titles = [f"Linen shirt {i}" for i in range(11)]
    shop = await _shop(core, redis_client, meili_settings, *titles)
    await core.pool.execute("DELETE FROM engine_queue")
    versions = await _versions(core, shop["id"])
    bad = sorted(versions)[4]
    build = follower.document

    def document(doc_type: DocType, row: Mapping[str, Any]) -> dict[str, Any]:
        doc = build(doc_type, row)
        # Meilisearch fails the whole task of a document whose id it cannot take
        return {**doc, "id": "not a valid id!"} if doc["id"] == bad else doc

    monkeypatch.setattr(follower, "document", document)
    monkeypatch.setattr(follower, "config", replace(follower.config, batch=2))
    # six pages of two, up to four tasks ahead of the one waited for
    assert await follower.rebuild(shop["id"], "product") == len(titles) - 1
    got = await _meili_versions(meili_settings, shop["id"])
    assert got == {k: v for k, v in versions.items() if k != bad}


@needs_server
async def test_settings_drift_is_repaired_at_start(
    meili_settings: Settings, core: CoreWrite, redis_client: aioredis.Redis,
    follower: MeiliFollower,
) -> None:
    shop = await _shop(core, redis_client, meili_settings, "Straw hat")
    await follower.indexes.start()
    await _drain(follower)
    uid = index_uid(follower.config.prefix, shop["id"], "product")
    index = follower.client.index(uid)
    await meili.wait(follower.client, await index.update_ranking_rules(["words"]), "settings",
                     30_000)
    await follower.indexes.start()
    settings = (await index.get_settings()).model_dump(by_alias=True)
    assert settings["rankingRules"] == index_settings("product", ("EUR", "USD"))["rankingRules"]


@needs_server
async def test_verify_reports_settings_changed_behind_our_back_and_repair_restores_them(
    meili_settings: Settings, core: CoreWrite, redis_client: aioredis.Redis,
    follower: MeiliFollower, capsys: pytest.CaptureFixture[str],
) -> None:
    line = await _pipeline(core, redis_client, meili_settings)
    shop, other = await make_tenant(core), await make_tenant(core)
    for tenant, title in ((shop, "Canvas sneakers"), (other, "Canvas trainers")):
        await make_product(core, tenant["id"], title=title, status="published")
    await line.settle()
    await follower.indexes.start()
    await _drain(follower)
    verify = argparse.Namespace(tenant=None, repair=False)
    assert await cmd_verify(verify, meili_settings) == 0
    assert capsys.readouterr().out.strip().endswith("no drift")

    uid = index_uid(follower.config.prefix, shop["id"], "product")
    index = follower.client.index(uid)
    for change in (index.update_synonyms({"boots": ["wellies"]}),
                   index.update_searchable_attributes(["title"])):
        await meili.wait(follower.client, await change, "settings", 30_000)
    # a tenant setting the follower has not written yet is drift too
    await store.replace_settings(core.pool, other["id"], SearchSettings.model_validate(
        {"stop_words": ["the"]}), "test")
    assert await cmd_verify(verify, meili_settings) == 1
    out = capsys.readouterr().out
    assert f"settings tenant {shop['id']} product (default:{uid}): searchableAttributes, " \
        "synonyms" in out
    assert f"settings tenant {other['id']} product" in out and ": stopWords" in out
    assert "settings drift: 2 index(es) (verify --repair writes them again)" in out
    assert "no document drift" in out

    assert await cmd_verify(argparse.Namespace(tenant=shop["slug"], repair=True),
                            meili_settings) == 0
    assert "searchableAttributes, synonyms  repaired" in capsys.readouterr().out
    held = (await index.get_settings()).model_dump(by_alias=True)
    want = index_settings("product", ("EUR", "USD"))
    assert held["searchableAttributes"] == want["searchableAttributes"]
    assert held["synonyms"] == {}
    assert await cmd_verify(verify, meili_settings) == 1  # the other tenant: not repaired
    assert await cmd_verify(argparse.Namespace(tenant=None, repair=True), meili_settings) == 0
    other_index = follower.client.index(index_uid(follower.config.prefix, other["id"],
                                                  "product"))
    assert (await other_index.get_stop_words()) == ["the"]
    assert await cmd_verify(verify, meili_settings) == 0
    assert capsys.readouterr().out.strip().endswith("no drift")
