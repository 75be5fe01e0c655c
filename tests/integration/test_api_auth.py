"""The auth matrix: role × tenant × endpoint, over HTTP with the canned test-double backend.
Missing or unknown keys are 401, a wrong role or tenant 403; nothing widens a key's tenant."""

from __future__ import annotations

from typing import Any

import pytest

from search_api.auth import KeyCache
from search_api.wiring import RESOURCES
from tests.api_fixtures import Api, api_fixture  # noqa: F401 - the fixture

PROBLEM = "application/problem+json"
SEARCH = [("GET", "/v1/search/products", None), ("POST", "/v1/search/products", {}),
          ("GET", "/v1/search/content", None), ("POST", "/v1/search/content", {}),
          ("GET", "/v1/suggest?q=ab", None)]


async def _call(api: Api, method: str, path: str, body: Any, who: str | None,
                **headers: str) -> Any:
    hdrs = dict(headers)
    if who is not None:
        hdrs.update(api.auth(who))
    return await api.client.request(method, path, json=body, headers=hdrs)


@pytest.mark.parametrize(("method", "path", "body"), [
    *SEARCH, ("POST", "/v1/admin/reindex", {}), ("GET", "/v1/admin/dlq", None),
    ("POST", "/v1/admin/dlq/replay", {}),
    ("GET", "/v1/admin/reindex/00000000-0000-0000-0000-000000000001", None)])
async def test_missing_or_bad_keys_are_401(api: Api, method: str, path: str,
                                           body: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer rsk_nope"}, {"X-Api-Key": "wrong"},
                    {"Authorization": "Basic Zm9vOmJhcg=="}, {"Authorization": "Bearer "}):
        resp = await api.client.request(method, path, json=body, headers=headers)
        assert resp.status == 401, (headers, await resp.text())
        assert resp.content_type == PROBLEM
    assert not api.backend.calls


async def test_revoked_keys_are_401(api: Api) -> None:
    pool = api.client.app[RESOURCES].pool
    await pool.execute("UPDATE api_keys SET revoked_at = now()")
    resp = await _call(api, "GET", "/v1/search/products", None, "a.search")
    assert resp.status == 401


@pytest.mark.parametrize(("method", "path", "body"), SEARCH)
async def test_search_endpoints_by_role(api: Api, method: str, path: str, body: Any) -> None:
    for who, status, tenant, drafts in (("a.search", 200, "a", False), ("a.admin", 200, "a", True),
                                        ("b.search", 200, "b", False), ("operator", 403, None,
                                                                        None)):
        resp = await _call(api, method, path, body, who)
        assert resp.status == status, (who, await resp.text())
        if status == 200:
            calls = api.backend.suggest_calls if "suggest" in path else api.backend.calls
            scope = calls[-1][-1] if "suggest" not in path else calls[-1][2]
            assert scope.tenant_id == api.tenants[tenant]["id"]  # type: ignore[union-attr,index]
            assert scope.include_drafts is drafts  # type: ignore[union-attr]


async def test_x_api_key_header_works_too(api: Api) -> None:
    resp = await api.client.get("/v1/search/products", headers={"X-Api-Key": api.keys["a.search"]})
    assert resp.status == 200


async def test_reindex_by_role_and_tenant(api: Api) -> None:
    a, b = api.tenants["a"], api.tenants["b"]
    cases = [("a.search", {"tenant": a["slug"]}, 403), ("a.admin", {"tenant": a["slug"]}, 202),
             ("a.admin", {}, 202), ("a.admin", {"tenant": b["slug"]}, 403),
             ("a.admin", {"tenant": str(b["id"])}, 403), ("a.admin", {"tenant": "nope"}, 403),
             ("operator", {"tenant": b["slug"], "type": "products"}, 202),
             ("operator", {}, 202), ("operator", {"tenant": "nope"}, 422)]
    for who, body, status in cases:
        resp = await _call(api, "POST", "/v1/admin/reindex", body, who)
        assert resp.status == status, (who, body, await resp.text())
        if status == 202:
            job = (await resp.json())["job"]
            expected = {"a.admin": str(a["id"])}.get(who, str(b["id"]) if body else None)
            assert job["tenant_id"] == expected and job["state"] == "queued"


async def test_job_progress_visible_to_its_tenant_and_operators(api: Api) -> None:
    resp = await _call(api, "POST", "/v1/admin/reindex", {"type": "content"}, "a.admin")
    job_id = (await resp.json())["job"]["id"]
    assert resp.headers["Location"] == f"/v1/admin/reindex/{job_id}"
    for who, status in (("a.admin", 200), ("operator", 200), ("b.admin", 403),
                        ("a.search", 403)):
        resp = await _call(api, "GET", f"/v1/admin/reindex/{job_id}", None, who)
        assert resp.status == status, who
    resp = await _call(api, "GET", f"/v1/admin/reindex/{job_id}", None, "a.admin")
    job = (await resp.json())["job"]
    assert job["id"] == job_id and job["doc_type"] == "content" and job["done"] == 0


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/v1/admin/dlq", None), ("POST", "/v1/admin/dlq/replay", {})])
async def test_dlq_is_for_operators_only(api: Api, method: str, path: str, body: Any) -> None:
    for who in ("a.search", "a.admin", "b.admin"):
        resp = await _call(api, method, path, body, who)
        assert resp.status == 403, who
        assert resp.content_type == PROBLEM
    resp = await _call(api, method, path, body, "operator")
    assert resp.status == 200


async def test_the_key_cache_sees_a_revocation_within_its_ttl(api: Api) -> None:
    pool = api.client.app[RESOURCES].pool
    now = [100.0]
    cache = KeyCache(ttl=5.0, max_entries=2, clock=lambda: now[0])
    key = api.keys["a.search"]
    first = await cache.lookup(pool, key)
    assert first is not None and first.role == "search"
    assert await cache.lookup(pool, "rsk_made-up") is None
    await pool.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1", first.id)
    now[0] += 4.9
    assert await cache.lookup(pool, key) == first  # still within the ttl: no round trip
    now[0] += 0.2
    assert await cache.lookup(pool, key) is None  # expired: the revocation is seen
    for made_up in ("rsk_x", "rsk_y", "rsk_z"):
        await cache.lookup(pool, made_up)
    assert len(cache._entries) == 2  # bounded, oldest first out
    assert await KeyCache(ttl=0).lookup(pool, api.keys["b.search"]) is not None
