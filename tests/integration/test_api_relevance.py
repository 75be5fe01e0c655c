"""Relevance administration over HTTP: settings, synonyms and rules with validation naming
the field and the auth matrix; versions and the audit trail; a pin rule made over HTTP puts its
product first on every backend and its DELETE undoes it; a second API process picks a rule up
within RELEVANCE_CACHE_SECONDS (real PostgreSQL and Redis)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from core_write.settings import Settings
from core_write.unit import CoreWrite
from search_api.app import create_app
from search_api.wiring import RESOURCES
from tests.api_fixtures import Api, api_fixture, api_settings, indexed_catalog  # noqa: F401
from tests.api_process import api_process
from tests.pipeline import Pipeline
from tests.waiting import wait_until

PROBLEM = "application/problem+json"


async def _fields(resp: aiohttp.ClientResponse | Any) -> list[str]:
    assert resp.content_type == PROBLEM, await resp.text()
    return [e["field"] for e in (await resp.json())["errors"]]


async def test_settings_validation_names_the_field(api: Api) -> None:
    admin = api.auth("a.admin")
    for method, path, body, field in (
        ("PUT", "/v1/admin/settings", {"stop_words": [{"words": ["a"], "locale": "x!"}]},
         "stop_words.0.locale"),
        ("PUT", "/v1/admin/settings", {"typo_tolerance": {"one_typo_min": 0}},
         "typo_tolerance.one_typo_min"),
        ("PATCH", "/v1/admin/settings", {"default_sort": {"products": "cheapest"}},
         "default_sort.products"),
        ("PATCH", "/v1/admin/settings", {"bogus": 1}, "bogus"),
        ("PATCH", "/v1/admin/settings", {"field_weights": {"products": {"price": 1}}},
         "field_weights.products.price"),
        ("PUT", "/v1/admin/settings", {"field_weights": {"content": {"body": 0}}},
         "field_weights.content.body"),
        ("PUT", "/v1/admin/synonyms", {"groups": [["alone"]]}, "groups.0.terms"),
        ("POST", "/v1/admin/synonyms", {"one_way": [{"from": "a"}]}, "one_way.0.to"),
        ("POST", "/v1/admin/rules", {"condition": {"query": "x"}, "consequences": {}},
         "consequences"),
        ("POST", "/v1/admin/rules", {"condition": {"query": "x"},
                                     "consequences": {"pin": [{"id": "no", "position": 1}]}},
         "consequences.pin.0.id"),
        ("POST", "/v1/admin/rules", {"consequences": {"boost": {"categories": ["no"]}}},
         "consequences.boost.categories.0"),
        ("POST", "/v1/admin/rules", {"consequences": {"bury": {"has_stock": "maybe"}}},
         "consequences.bury.has_stock"),
        ("POST", "/v1/admin/rules", {"consequences": {"boost": {"status": ["gone"]}}},
         "consequences.boost.status.0"),
    ):
        resp = await api.client.request(method, path, json=body, headers=admin)
        assert resp.status == 422, (path, body, await resp.text())
        assert field in await _fields(resp), (path, body)
    # nothing was written by the refused changes
    got = await (await api.client.get("/v1/admin/settings", headers=admin)).json()
    assert got["version"] == 0 and got["settings"]["in_stock_first"] is True


async def test_field_weights_queue_a_reindex_and_say_when_they_are_live(api: Api) -> None:
    admin = api.auth("a.admin")
    got = await (await api.client.get("/v1/admin/settings", headers=admin)).json()
    assert got["field_weights_live"] is True and got["field_weights_job"] is None
    assert got["settings"]["field_weights"]["products"] == {
        "title": 1, "subtitle": 2, "tags": 2, "categories": 2, "options": 2,
        "description": 3, "meta": 3}
    resp = await api.client.patch("/v1/admin/settings", headers=admin, json={
        "field_weights": {"products": {"description": 1}}})
    assert resp.status == 200, await resp.text()
    got = await resp.json()
    assert got["settings"]["field_weights"]["products"]["description"] == 1
    assert got["field_weights_live"] is False
    job = got["field_weights_job"]
    assert job["state"] == "queued"
    queued = await api.client.get(f"/v1/admin/reindex/{job['id']}", headers=admin)
    assert (await queued.json())["job"]["doc_type"] == "product"  # content is unchanged
    # other settings leave the weights (and the job) alone
    resp = await api.client.patch("/v1/admin/settings", headers=admin,
                                  json={"stop_words": ["the"]})
    assert (await resp.json())["field_weights_job"]["id"] == job["id"]
    # the job failed; a later reindex of the tenant that succeeds makes them live
    pool = api.client.app[RESOURCES].pool
    await pool.execute("UPDATE index_jobs SET state = 'failed' WHERE id = $1",
                       uuid.UUID(job["id"]))
    got = await (await api.client.get("/v1/admin/settings", headers=admin)).json()
    assert got["field_weights_live"] is False and got["field_weights_job"]["state"] == "failed"
    later = await (await api.client.post("/v1/admin/reindex", headers=admin,
                                         json={"type": "content"})).json()
    await pool.execute("UPDATE index_jobs SET state = 'succeeded' WHERE id = $1",
                       uuid.UUID(later["job"]["id"]))
    got = await (await api.client.get("/v1/admin/settings", headers=admin)).json()
    assert got["field_weights_live"] is False  # content only: not the products' documents
    later = await (await api.client.post("/v1/admin/reindex", headers=admin, json={})).json()
    await pool.execute("UPDATE index_jobs SET state = 'succeeded' WHERE id = $1",
                       uuid.UUID(later["job"]["id"]))
    got = await (await api.client.get("/v1/admin/settings", headers=admin)).json()
    assert got["field_weights_live"] is True
    # the other tenant is untouched
    other = await (await api.client.get("/v1/admin/settings",
                                        headers=api.auth("b.admin"))).json()
    assert other["field_weights_live"] is True and other["field_weights_job"] is None


async def test_auth_matrix(api: Api) -> None:
    b_slug = api.tenants["b"]["slug"]
    paths = ("/v1/admin/settings", "/v1/admin/synonyms", "/v1/admin/rules")
    for path in paths:
        assert (await api.client.get(path, headers=api.auth("a.search"))).status == 403
        assert (await api.client.get(path)).status == 401
        assert (await api.client.get(path, headers=api.auth("a.admin"))).status == 200
        resp = await api.client.get(f"{path}?tenant={b_slug}", headers=api.auth("a.admin"))
        assert resp.status == 403
        resp = await api.client.get(path, headers=api.auth("operator"))
        assert resp.status == 422 and await _fields(resp) == ["tenant"]
        resp = await api.client.get(f"{path}?tenant={b_slug}", headers=api.auth("operator"))
        assert resp.status == 200
        resp = await api.client.get(f"{path}?tenant=nobody-here", headers=api.auth("operator"))
        assert resp.status == 404
    # a tenant's change is not another's
    resp = await api.client.put("/v1/admin/synonyms", json={"groups": [["a1", "b1"]]},
                                headers=api.auth("a.admin"))
    assert resp.status == 200
    other = await (await api.client.get("/v1/admin/synonyms",
                                        headers=api.auth("b.admin"))).json()
    assert other["groups"] == []
    # an admin cannot read or delete another tenant's rule by id
    created = await api.client.post("/v1/admin/rules", headers=api.auth("a.admin"), json={
        "condition": {"query": "x"}, "consequences": {"hide": [str(uuid.uuid4())]}})
    url = created.headers["Location"]
    assert (await api.client.get(url, headers=api.auth("b.admin"))).status == 404
    assert (await api.client.delete(url, headers=api.auth("b.admin"))).status == 404
    assert (await api.client.get(url, headers=api.auth("a.admin"))).status == 200


async def test_versions_and_the_audit_trail(api: Api) -> None:
    admin = api.auth("a.admin")
    put = await api.client.put("/v1/admin/synonyms", headers=admin,
                               json={"groups": [["sneakers", "trainers"]]})
    assert (await put.json())["version"] == 1
    add = await api.client.post("/v1/admin/synonyms", headers=admin,
                                json={"one_way": [{"from": "boots", "to": ["wellies"]}]})
    body = await add.json()
    assert body["version"] == 2
    assert body["groups"] == [{"terms": ["sneakers", "trainers"], "locale": None}]
    assert body["one_way"] == [{"from": "boots", "to": ["wellies"], "locale": None}]
    patch = await api.client.patch("/v1/admin/settings", headers=admin,
                                   json={"in_stock_first": False, "stop_words": ["the"]})
    settings = (await patch.json())["settings"]
    assert settings["in_stock_first"] is False and settings["synonyms"]["groups"]
    rule = await api.client.post("/v1/admin/rules", headers=admin, json={
        "condition": {"query": "boots"}, "consequences": {"banner": {"text": "hi"}}})
    assert rule.status == 201
    rule_url = rule.headers["Location"]
    assert (await api.client.delete(rule_url, headers=admin)).status == 200
    assert (await api.client.get(rule_url, headers=admin)).status == 404
    changes = (await (await api.client.get("/v1/admin/settings/audit",
                                           headers=admin)).json())["changes"]
    # in_stock_first is the tenant's setting: its change is a row of its own
    assert [(c["version"], c["subject"], c["action"]) for c in changes] == [
        (6, "rule", "delete"), (5, "rule", "create"), (4, "settings", "update"),
        (3, "settings", "update"), (2, "settings", "update"), (1, "settings", "update")]
    key_id = {c["actor"] for c in changes}
    assert len(key_id) == 1 and next(iter(key_id)).startswith("key:")
    assert changes[2]["before"] == {"in_stock_first": True}
    assert changes[2]["after"] == {"in_stock_first": False}
    assert changes[3]["after"]["stop_words"] == [{"words": ["the"], "locale": None}]
    shown = await (await api.client.get("/v1/admin/settings", headers=admin)).json()
    assert shown["settings"]["in_stock_first"] is False and shown["version"] == 6
    assert changes[0]["before"]["consequences"]["banner"] == {"text": "hi"}


@pytest.fixture
async def real(settings: Settings, core: CoreWrite, pipeline: Pipeline,
               redis_client: aioredis.Redis, tmp_path: Path,
               ) -> AsyncIterator[tuple[dict[str, TestClient[Any, Any]], dict[str, str],
                                        Settings]]:
    """An API client per backend over the indexed conformance catalog."""
    conf = api_settings(settings, tantivy_dir=str(tmp_path))
    keys = await indexed_catalog(conf, core, pipeline, redis_client)
    clients: dict[str, TestClient[Any, Any]] = {}
    try:
        for backend in ("postgres", "tantivy"):
            app = create_app(conf.model_copy(update={"search_backend": backend}))
            clients[backend] = TestClient(TestServer(app))
            await clients[backend].start_server()
        yield clients, keys, conf
    finally:
        for client in clients.values():
            await client.close()


async def _titles(client: TestClient[Any, Any], key: str, q: str) -> tuple[list[str],
                                                                          dict[str, Any]]:
    resp = await client.get(f"/v1/search/products?q={q}",
                            headers={"Authorization": f"Bearer {key}"})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    return [h["document"]["title"] for h in body["hits"]], body


async def test_a_pin_rule_over_http_puts_its_product_first_and_delete_undoes_it(
    real: tuple[dict[str, TestClient[Any, Any]], dict[str, str], Settings]
) -> None:
    clients, keys, _ = real
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    postgres = clients["postgres"]
    hats, body = await _titles(postgres, keys["admin"], "hat")
    wool = next(h["id"] for h in body["hits"] if h["document"]["title"] == "Wool hat")
    before = {name: (await _titles(c, keys["admin"], "boots"))[0]
              for name, c in clients.items()}
    assert all(titles and titles[0] != "Wool hat" for titles in before.values())
    resp = await postgres.post("/v1/admin/rules", headers=admin, json={
        "condition": {"query": "boots"},
        "consequences": {"pin": [{"id": wool, "position": 1}],
                         "banner": {"text": "Winter"},
                         "redirect": "https://shop.example/boots"}})
    assert resp.status == 201, await resp.text()
    rule = (await resp.json())["rule"]
    for name, client in clients.items():
        async def pinned(client: TestClient[Any, Any] = client) -> bool:
            return (await _titles(client, keys["admin"], "boots"))[0][:1] == ["Wool hat"]

        # the app that took the change forgets its copy at once, the other one reads it
        # again within RELEVANCE_CACHE_SECONDS
        await wait_until(pinned, timeout=10, what=f"the pin on {name}")
        titles, body = await _titles(client, keys["admin"], "boots")
        assert titles == ["Wool hat", *before[name]]
        assert body["applied_rules"] == [rule["id"]]
        assert body["banners"] == [{"text": "Winter"}]
        assert body["redirect"] == "https://shop.example/boots"
        assert body["total"] == len(before[name]) + 1
    resp = await postgres.delete(f"/v1/admin/rules/{rule['id']}", headers=admin)
    assert resp.status == 200
    for name, client in clients.items():
        async def unpinned(client: TestClient[Any, Any] = client,
                           want: list[str] = before[name]) -> bool:
            return (await _titles(client, keys["admin"], "boots"))[0] == want

        await wait_until(unpinned, timeout=10, what=f"the pin gone on {name}")
        assert (await _titles(client, keys["admin"], "boots"))[1]["applied_rules"] == []


async def test_a_bury_rule_over_http_moves_its_documents_last(
    real: tuple[dict[str, TestClient[Any, Any]], dict[str, str], Settings]
) -> None:
    clients, keys, _ = real
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    before = {name: (await _titles(c, keys["admin"], "leather"))[0]
              for name, c in clients.items()}
    sale = {"Leather wallet", "Canvas sneakers"}
    assert all(sale <= set(titles) for titles in before.values())
    resp = await clients["postgres"].post("/v1/admin/rules", headers=admin, json={
        "condition": {"contains": "leather"}, "consequences": {"bury": {"tags": ["sale"]}}})
    assert resp.status == 201, await resp.text()
    rule = (await resp.json())["rule"]
    assert rule["consequences"]["bury"]["tags"] == ["sale"]
    for name, client in clients.items():
        async def applied(client: TestClient[Any, Any] = client) -> bool:
            _, body = await _titles(client, keys["admin"], "leather")
            return bool(body["applied_rules"] == [rule["id"]])

        await wait_until(applied, timeout=10, what=f"the bury on {name}")
        titles, body = await _titles(client, keys["admin"], "leather")
        assert titles == [t for t in before[name] if t not in sale] + \
            [t for t in before[name] if t in sale], (name, before[name])
        assert body["total"] == len(before[name])


async def test_a_second_api_process_picks_a_rule_up_within_the_cache_time(
    real: tuple[dict[str, TestClient[Any, Any]], dict[str, str], Settings]
) -> None:
    clients, keys, conf = real
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    async with api_process(conf, RELEVANCE_CACHE_SECONDS="1") as other, \
            aiohttp.ClientSession(headers=admin) as session:
        async def other_titles() -> list[str]:
            async with session.get(f"{other.url}/v1/search/products?q=boots") as resp:
                assert resp.status == 200
                return [h["document"]["title"] for h in (await resp.json())["hits"]]

        before = await other_titles()
        boots = before[0]
        resp = await clients["postgres"].post("/v1/admin/rules", headers=admin, json={
            "condition": {"query": "boots"}, "consequences": {"hide": [
                (await _titles(clients["postgres"], keys["admin"], "boots"))[1]["hits"][0]
                ["id"]]}})
        assert resp.status == 201

        async def hidden() -> bool:
            return boots not in await other_titles()

        # live within the other process's cache time (1 s), plus slack for a loaded machine
        await wait_until(hidden, timeout=1.0 + 4.0, what="the rule in the other process")


async def test_the_cli_writes_what_the_api_reads(api: Api, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from rustok_search.cli import build_parser

    slug = api.tenants["a"]["slug"]

    async def cli(*argv: str) -> tuple[int, str, str]:
        args = build_parser().parse_args(list(argv))
        code = await args.run(args, api.settings)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    synonyms = tmp_path / "synonyms.json"
    synonyms.write_text(json.dumps({"groups": [["sneakers", "trainers"]]}))
    code, out, err = await cli("synonyms", "put", str(synonyms), "--tenant", slug)
    assert code == 0 and json.loads(out)["version"] == 1 and "RELEVANCE_CACHE_SECONDS" in err
    got = await (await api.client.get("/v1/admin/synonyms", headers=api.auth("a.admin"))).json()
    assert got["groups"][0]["terms"] == ["sneakers", "trainers"]
    rule = tmp_path / "rule.json"
    rule.write_text(json.dumps({"condition": {"query": "boots"},
                                "consequences": {"hide": [str(uuid.uuid4())]}}))
    code, out, _ = await cli("rules", "add", str(rule), "--tenant", slug)
    rule_id = json.loads(out)["rule"]["id"]
    assert code == 0
    listed = await (await api.client.get("/v1/admin/rules", headers=api.auth("a.admin"))).json()
    assert [r["id"] for r in listed["rules"]] == [rule_id]
    # bad input: exit 2 and the field named, nothing written
    rule.write_text(json.dumps({"condition": {"query": "x"}, "consequences": {
        "pin": [{"id": "nope", "position": 1}]}}))
    code, _, err = await cli("rules", "add", str(rule), "--tenant", slug)
    assert code == 2 and "consequences.pin.0.id" in err
    code, out, _ = await cli("rules", "delete", rule_id, "--tenant", slug)
    assert code == 0
    code, out, _ = await cli("rules", "list", "--tenant", slug)
    assert json.loads(out) == []
    # field weights: the answer says they wait for the reindex they queued
    weights = tmp_path / "weights.json"
    weights.write_text(json.dumps({"field_weights": {"content": {"body": 1}}}))
    code, out, err = await cli("settings", "patch", str(weights), "--tenant", slug)
    answer = json.loads(out)
    assert code == 0 and answer["field_weights_live"] is False and "field_weights" in err
    got = await (await api.client.get("/v1/admin/settings", headers=api.auth("a.admin"))).json()
    assert got["field_weights_job"]["id"] == answer["field_weights_job"]["id"]
    assert got["settings"]["field_weights"]["content"]["body"] == 1
    changes = (await (await api.client.get("/v1/admin/settings/audit",
                                           headers=api.auth("a.admin"))).json())["changes"]
    assert {c["actor"] for c in changes} == {"cli"} and len(changes) == 4


async def test_the_default_sort_applies_to_searches_that_name_none(
    real: tuple[dict[str, TestClient[Any, Any]], dict[str, str], Settings]
) -> None:
    clients, keys, _ = real
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    # both directions: whatever order relevance gives, one of them differs from it
    for sort, reverse in (("title:desc", True), ("title:asc", False)):
        resp = await clients["postgres"].patch("/v1/admin/settings", headers=admin, json={
            "default_sort": {"products": sort}})
        assert resp.status == 200
        for name, client in clients.items():
            async def in_order(client: TestClient[Any, Any] = client,
                               reverse: bool = reverse) -> bool:
                titles = (await _titles(client, keys["admin"], "hat"))[0]
                return len(titles) > 1 and titles == sorted(titles, key=str.lower,
                                                            reverse=reverse)

            await wait_until(in_order, timeout=10, what=f"{sort} by default on {name}")
            resp = await client.get(f"/v1/search/products?q=hat&sort=title:"
                                    f"{'asc' if reverse else 'desc'}", headers=admin)
            titles = [h["document"]["title"] for h in (await resp.json())["hits"]]
            assert titles == sorted(titles, key=str.lower, reverse=not reverse)  # explicit wins


SYNONYMS = {"groups": [["sneakers", "trainers"]]}
"""The issue's call: `q=trainers` then finds the products titled "sneakers"."""


async def _finds_sneakers(client: TestClient[Any, Any], key: str) -> bool:
    return "Canvas sneakers" in (await _titles(client, key, "trainers"))[0]


async def test_synonyms_over_http_are_live_within_seconds(
    real: tuple[dict[str, TestClient[Any, Any]], dict[str, str], Settings]
) -> None:
    clients, keys, _ = real
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    for client in clients.values():
        assert not await _finds_sneakers(client, keys["admin"])
    resp = await clients["postgres"].put("/v1/admin/synonyms", headers=admin, json=SYNONYMS)
    assert resp.status == 200, await resp.text()
    for name, client in clients.items():
        async def found(client: TestClient[Any, Any] = client) -> bool:
            return await _finds_sneakers(client, keys["admin"])

        await wait_until(found, timeout=5, what=f"the synonym on {name}")
    resp = await clients["tantivy"].delete("/v1/admin/synonyms", headers=admin)
    assert resp.status == 200
    for name, client in clients.items():
        async def gone(client: TestClient[Any, Any] = client) -> bool:
            return not await _finds_sneakers(client, keys["admin"])

        await wait_until(gone, timeout=5, what=f"the synonym gone on {name}")


MEILISEARCH_URL = os.environ.get("MEILISEARCH_URL", "")


@pytest.mark.skipif(not MEILISEARCH_URL, reason="needs a Meilisearch server: set "
                    "MEILISEARCH_URL (README, Tests)")
async def test_synonyms_over_http_on_meilisearch(
    settings: Settings, core: CoreWrite, pipeline: Pipeline, redis_client: aioredis.Redis,
    tmp_path: Path
) -> None:
    """The same call with a Meilisearch backend and its follower running: the synonym
    becomes an index setting within seconds, and the admin API says which version is live."""
    from bench.lifecycle import meili_indexes

    conf = api_settings(settings, tantivy_dir=str(tmp_path)).model_copy(update={
        "meilisearch_url": MEILISEARCH_URL,
        "meilisearch_api_key": os.environ.get("MEILISEARCH_API_KEY", ""),
        "meilisearch_index_prefix": f"rel{uuid.uuid4().hex[:10]}"})
    keys = await indexed_catalog(conf, core, pipeline, redis_client)
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    stop = asyncio.Event()
    async with meili_indexes(core.pool, redis_client, conf) as follower:
        running = asyncio.create_task(follower.run(stop))
        api: TestClient[Any, Any] = TestClient(TestServer(create_app(
            conf.model_copy(update={"search_backend": "meilisearch"}))))
        await api.start_server()
        try:
            assert not await _finds_sneakers(api, keys["admin"])
            resp = await api.put("/v1/admin/synonyms", headers=admin, json=SYNONYMS)
            version = (await resp.json())["version"]

            async def found() -> bool:
                return await _finds_sneakers(api, keys["admin"])

            await wait_until(found, timeout=5, what="the synonym on Meilisearch")
            shown = await (await api.get("/v1/admin/settings", headers=admin)).json()
            assert shown["meilisearch_version"] == version
        finally:
            await api.close()
            stop.set()
            await running
