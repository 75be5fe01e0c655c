"""Tenants and API keys managed by operators, over HTTP and the CLI: create, list, show,
revoke, rotate, expiry and the last-used time (real PostgreSQL, the app over HTTP)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from core_write.resources import Resources
from core_write.settings import Settings
from core_write.unit import CoreWrite
from rustok_search.cli import build_parser
from search_api.accounts import parse_duration
from search_api.app import create_app
from search_api.auth import ApiKey, KeyUsage, create_key, lookup_key
from search_api.wiring import RESOURCES
from tests.api_fixtures import CannedBackend, api_settings
from tests.builders import make_tenant
from tests.waiting import wait_until

PROBLEM = "application/problem+json"
CACHE_SECONDS = 0.5


@pytest.fixture(name="client")
async def client_fixture(settings: Settings, core: CoreWrite,
                         ) -> AsyncIterator[tuple[TestClient[Any, Any], dict[str, str]]]:
    """The app with a short key cache, and an operator key."""
    backend = CannedBackend()

    def factory(_settings: Settings, _resources: Resources) -> CannedBackend:
        return backend

    conf = api_settings(settings, api_key_cache_seconds=CACHE_SECONDS)
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(conf, factory)))
    await client.start_server()
    operator, _ = await create_key(core.pool, None, "operator")
    try:
        yield client, {"Authorization": f"Bearer {operator}"}
    finally:
        await client.close()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_operators_create_list_and_show_tenants(
        client: tuple[TestClient[Any, Any], dict[str, str]]) -> None:
    http, op = client
    resp = await http.post("/v1/admin/tenants", headers=op, json={
        "slug": "acme", "name": "Acme", "settings": {"language": "english"},
        "modules": ["commerce"]})
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["tenant"]["slug"] == "acme" and body["tenant"]["language"] == "english"
    assert body["tenant"]["modules"] == ["commerce"] and body["consistency_token"] >= 1
    assert resp.headers["Location"] == "/v1/admin/tenants/acme"
    resp = await http.post("/v1/admin/tenants", headers=op, json={"slug": "acme", "name": "x"})
    assert resp.status == 409 and resp.content_type == PROBLEM
    resp = await http.post("/v1/admin/tenants", headers=op, json={"slug": "Bad Slug",
                                                                  "name": "x"})
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "slug"
    listed = await (await http.get("/v1/admin/tenants", headers=op)).json()
    assert [t["slug"] for t in listed["tenants"]] == ["acme"]
    shown = await (await http.get(f"/v1/admin/tenants/{body['tenant']['id']}",
                                  headers=op)).json()
    assert shown["tenant"]["name"] == "Acme"
    assert (await http.get("/v1/admin/tenants/nope", headers=op)).status == 404
    admin, _ = await create_key(http.app[RESOURCES].pool, "acme", "admin")
    for method, path in (("GET", "/v1/admin/tenants"), ("POST", "/v1/admin/tenants"),
                         ("GET", "/v1/admin/keys"), ("POST", "/v1/admin/keys")):
        resp = await http.request(method, path, headers=bearer(admin), json={})
        assert resp.status == 403, (method, path)


async def _status(http: TestClient[Any, Any], key: str) -> int:
    return (await http.get("/v1/search/products", headers=bearer(key))).status


async def test_keys_create_list_revoke_and_rotate(
        client: tuple[TestClient[Any, Any], dict[str, str]], core: CoreWrite) -> None:
    http, op = client
    await make_tenant(core, slug="shop")
    resp = await http.post("/v1/admin/keys", headers=op, json={
        "tenant": "shop", "role": "search", "expires_in": "30d", "label": "storefront"})
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    key, info = created["key"], created["info"]
    assert key.startswith("rsk_") and info["state"] == "active" and info["tenant"] == "shop"
    expires = datetime.fromisoformat(info["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)
    assert info["last_used_at"] is None and "key_hash" not in info
    assert await _status(http, key) == 200
    listed = await (await http.get("/v1/admin/keys?tenant=shop", headers=op)).json()
    assert [k["id"] for k in listed["keys"]] == [info["id"]]
    assert listed["keys"][0]["last_used_at"] is not None  # written on first use

    resp = await http.post(f"/v1/admin/keys/{info['id']}/rotate", headers=op)
    assert resp.status == 201
    rotated = await resp.json()
    assert rotated["info"]["rotated_from"] == info["id"]
    assert rotated["info"]["expires_at"] == info["expires_at"]  # the old key's expiry
    assert await _status(http, rotated["key"]) == 200
    started = time.monotonic()
    await wait_until(lambda: _is(http, key, 401), timeout=CACHE_SECONDS + 5,
                     what="the rotated-out key refused")
    assert time.monotonic() - started <= CACHE_SECONDS + 1
    resp = await http.post(f"/v1/admin/keys/{info['id']}/rotate", headers=op)
    assert resp.status == 409 and resp.content_type == PROBLEM

    new_id = rotated["info"]["id"]
    resp = await http.post(f"/v1/admin/keys/{new_id}/revoke", headers=op)
    assert resp.status == 200 and (await resp.json())["info"]["state"] == "revoked"
    await wait_until(lambda: _is(http, rotated["key"], 401), timeout=CACHE_SECONDS + 5,
                     what="the revoked key refused")
    everything = await (await http.get("/v1/admin/keys?tenant=shop&all=true",
                                       headers=op)).json()
    assert {k["state"] for k in everything["keys"]} == {"revoked"}
    assert (await (await http.get("/v1/admin/keys?tenant=shop", headers=op)).json()) == {
        "keys": []}
    for path in (f"/v1/admin/keys/{uuid.uuid4()}/revoke", "/v1/admin/keys/nope/revoke"):
        resp = await http.post(path, headers=op)
        assert resp.status in (404, 422) and resp.content_type == PROBLEM
    bad = [{"tenant": "shop", "role": "search", "expires_in": "soon"},
           {"tenant": "shop", "role": "search", "expires_in": "1d",
            "expires_at": "2030-01-01T00:00:00Z"},
           {"tenant": "shop", "role": "search", "expires_at": "2000-01-01T00:00:00Z"},
           {"role": "search"}, {"tenant": "shop", "role": "operator"},
           {"tenant": "shop", "role": "root"}]
    for body in bad:
        resp = await http.post("/v1/admin/keys", headers=op, json=body)
        assert resp.status == 422, (body, await resp.text())
    resp = await http.post("/v1/admin/keys", headers=op, json={"tenant": "gone",
                                                               "role": "admin"})
    assert resp.status == 404


async def _is(http: TestClient[Any, Any], key: str, status: int) -> bool:
    return await _status(http, key) == status


async def test_an_expired_key_is_refused_even_while_cached(
        client: tuple[TestClient[Any, Any], dict[str, str]], core: CoreWrite) -> None:
    http, op = client
    tenant = await make_tenant(core)
    expires = datetime.now(UTC) + timedelta(seconds=1.5)
    resp = await http.post("/v1/admin/keys", headers=op, json={
        "tenant": str(tenant["id"]), "role": "admin", "expires_at": expires.isoformat()})
    key = (await resp.json())["key"]
    assert await _status(http, key) == 200
    await wait_until(lambda: _is(http, key, 401), timeout=5, what="the key expired")
    assert datetime.now(UTC) >= expires
    listed = await (await http.get("/v1/admin/keys?all=1", headers=op)).json()
    assert [k["state"] for k in listed["keys"] if k["role"] == "admin"] == ["expired"]


async def test_last_used_is_written_at_most_once_per_interval(
        client: tuple[TestClient[Any, Any], dict[str, str]]) -> None:
    http, _ = client
    pool = http.app[RESOURCES].pool
    now = [1000.0]
    usage = KeyUsage(interval=60, max_entries=2, clock=lambda: now[0])
    _, stored = await create_key(pool, None, "operator")
    assert await usage.record(pool, stored) is True
    first = await pool.fetchval("SELECT last_used_at FROM api_keys WHERE id = $1", stored.id)
    assert first is not None
    now[0] += 59
    assert await usage.record(pool, stored) is False
    now[0] += 2
    assert await usage.record(pool, stored) is True
    # the SQL guard too: another process writing within the minute changes nothing
    assert await pool.fetchval("SELECT last_used_at FROM api_keys WHERE id = $1",
                               stored.id) == first
    for n in range(3):
        await usage.record(pool, ApiKey(uuid.UUID(int=n), None, "operator"))
    assert len(usage._written) <= 2


def test_durations() -> None:
    assert parse_duration("90d") == timedelta(days=90)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("45") == timedelta(seconds=45)
    assert parse_duration("2w") == timedelta(weeks=2)
    for bad in ("", "0s", "1y", "-1d", "99999w"):
        with pytest.raises(ValueError):
            parse_duration(bad)


async def _cli(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    args = build_parser().parse_args(list(argv))
    assert await args.run(args, settings) == 0
    return capsys.readouterr().out


async def test_cli_tenants_and_keys(settings: Settings, capsys: pytest.CaptureFixture[str],
                                    core: CoreWrite) -> None:
    out = await _cli(settings, capsys, "tenants", "create", "cli-shop", "--name", "CLI Shop",
                     "--language", "english", "--modules", "content")
    assert out.startswith("cli-shop\t") and "\tenglish\tcontent\tCLI Shop" in out
    assert "cli-shop" in await _cli(settings, capsys, "tenants", "list")
    key = (await _cli(settings, capsys, "keys", "create", "--tenant", "cli-shop", "--role",
                      "search", "--expires-in", "12h", "--label", "web")).strip()
    assert key.startswith("rsk_")
    shown = await _cli(settings, capsys, "tenants", "show", "cli-shop")
    assert "language:    english" in shown and f"search {key[:10]}" in shown
    assert "stock first: yes" in shown  # on by default
    await _cli(settings, capsys, "tenants", "update", "cli-shop", "--no-in-stock-first")
    shown = await _cli(settings, capsys, "tenants", "show", "cli-shop")
    assert "stock first: no" in shown and "language:    english" in shown  # language kept
    found = await lookup_key(core.pool, key)
    assert found is not None and found.scope().in_stock_first is False
    listed = await _cli(settings, capsys, "keys", "list", "--tenant", "cli-shop")
    key_id = listed.splitlines()[1].split()[0]
    assert "active" in listed and "web" in listed
    new_key = (await _cli(settings, capsys, "keys", "rotate", key_id)).strip()
    assert new_key.startswith("rsk_") and new_key != key
    listed = await _cli(settings, capsys, "keys", "list", "--tenant", "cli-shop", "--all")
    new_id = next(line.split()[0] for line in listed.splitlines()[1:] if "active" in line)
    assert "revoked" in listed
    assert "revoked" in await _cli(settings, capsys, "keys", "revoke", new_id)
    rows = await core.pool.fetch("SELECT revoked_at FROM api_keys")
    assert len(rows) == 2 and all(r["revoked_at"] is not None for r in rows)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["keys", "create", "--role", "search", "--expires-in", "1d",
                                   "--expires-at", "2030-01-01"])
