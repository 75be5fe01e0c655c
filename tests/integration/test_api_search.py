"""Search and suggest over HTTP with a canned test-double backend: routing, parameter parsing,
the key's scope, problem+json errors, read-your-writes tokens, limits and CORS."""

from __future__ import annotations

import asyncio
import uuid

from core_write.errors import Unavailable
from core_write.unit import CoreWrite
from search_api.wiring import RESOURCES
from tests.api_fixtures import ORIGIN, Api, api_fixture  # noqa: F401 - the fixture
from tests.builders import make_tenant, outbox_mark

PROBLEM = "application/problem+json"


async def test_get_search_parses_the_query_string_into_one_query(api: Api) -> None:
    cat = uuid.uuid4()
    resp = await api.client.get("/v1/search/products", headers=api.auth("a.search"), params=[
        ("q", "red shoe"), ("filter[categories]", f"{cat}"), ("filter.tags", "a,b"),
        ("filter[price][currency]", "EUR"), ("filter[price][min]", "100"),
        ("facets", "tags,price"), ("sort", "price:asc"), ("page", "2"), ("per_page", "5"),
        ("highlight", "true")])
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["total"] == 1 and body["backend"] == "canned" and body["stale"] is False
    query, scope = api.backend.calls[-1]
    assert query.doc_type == "product" and query.q == "red shoe"
    assert query.filter is not None and query.filter.categories == [cat]  # type: ignore[union-attr]
    assert query.filter.tags == ["a", "b"]  # type: ignore[union-attr]
    assert query.filter.price.min == 100  # type: ignore[union-attr]
    assert query.facets == ["tags", "price"] and query.page == 2 and query.per_page == 5
    assert query.highlight is True
    assert scope.tenant_id == api.tenants["a"]["id"] and scope.include_drafts is False
    assert scope.in_stock_first is True  # the tenant's setting, on by default


async def test_post_search_content_takes_the_json_query(api: Api) -> None:
    resp = await api.client.post("/v1/search/content", headers=api.auth("b.admin"), json={
        "q": "hello", "filter": {"kind": ["post"], "status": ["draft"]},
        "sort": "published_at:desc"})
    assert resp.status == 200, await resp.text()
    query, scope = api.backend.calls[-1]
    assert query.doc_type == "content" and query.sort == "published_at:desc"
    assert scope.tenant_id == api.tenants["b"]["id"] and scope.include_drafts is True


async def test_validation_errors_are_422_problems_naming_the_field(api: Api) -> None:
    resp = await api.client.get("/v1/search/products?per_page=1000", headers=api.auth("a.search"))
    assert resp.status == 422 and resp.content_type == PROBLEM
    body = await resp.json()
    assert body["status"] == 422 and body["title"] and body["type"].startswith("https://")
    assert body["errors"][0]["field"] == "per_page"
    resp = await api.client.post("/v1/search/products", headers=api.auth("a.search"),
                                 json={"filter": {"price": {"currency": "eur"}}})
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"].startswith("filter")
    resp = await api.client.get("/v1/search/content?facets=price", headers=api.auth("a.search"))
    assert resp.status == 422


async def test_unknown_parameters_and_a_tenant_cannot_widen_the_scope(api: Api) -> None:
    other = str(api.tenants["b"]["id"])
    resp = await api.client.get(f"/v1/search/products?tenant={other}",
                                headers=api.auth("a.search"))
    assert resp.status == 422
    assert (await resp.json())["errors"] == [{"field": "tenant",
                                              "message": "unknown parameter"}]
    resp = await api.client.post("/v1/search/products", headers=api.auth("a.search"),
                                 json={"tenant_id": other})
    assert resp.status == 422
    resp = await api.client.post("/v1/search/products", headers=api.auth("a.search"),
                                 json={"doc_type": "content"})
    assert resp.status == 422 and (await resp.json())["errors"][0]["field"] == "doc_type"
    assert not api.backend.calls


async def test_search_keys_may_not_ask_for_drafts(api: Api) -> None:
    resp = await api.client.get("/v1/search/products?filter[status]=draft",
                                headers=api.auth("a.search"))
    assert resp.status == 403 and (await resp.json())["errors"][0]["field"] == "filter.status"
    resp = await api.client.get("/v1/search/products?filter[status]=published",
                                headers=api.auth("a.search"))
    assert resp.status == 200


async def test_malformed_input_is_400_never_500(api: Api) -> None:
    headers = {**api.auth("a.search"), "Content-Type": "application/json"}
    for body in (b"{", b"", b"\xff\xfe", b"[1,"):
        resp = await api.client.post("/v1/search/products", data=body, headers=headers)
        assert resp.status == 400, body
        assert resp.content_type == PROBLEM
    resp = await api.client.post("/v1/search/products", json=[1, 2], headers=api.auth("a.search"))
    assert resp.status == 422
    for qs in ("filter[=1", "filter[a][b][c]=1", "q=a&q=b", "filter.x..y=1"):
        resp = await api.client.get(f"/v1/search/products?{qs}", headers=api.auth("a.search"))
        assert resp.status in (400, 422), qs
        assert resp.content_type == PROBLEM


async def test_oversize_body_is_413_and_long_query_414(api: Api) -> None:
    resp = await api.client.post("/v1/search/products", headers=api.auth("a.search"),
                                 json={"q": "x" * 10_000})
    assert resp.status == 413 and resp.content_type == PROBLEM
    resp = await api.client.get("/v1/search/products?q=" + "x" * 5000,
                                headers=api.auth("a.search"))
    assert resp.status == 414 and resp.content_type == PROBLEM


async def test_unknown_route_is_404_and_wrong_method_405(api: Api) -> None:
    resp = await api.client.get("/v1/nothing", headers=api.auth("a.search"))
    assert resp.status == 404 and resp.content_type == PROBLEM
    resp = await api.client.delete("/v1/search/products", headers=api.auth("a.search"))
    assert resp.status == 405 and resp.content_type == PROBLEM


async def test_backend_outage_is_503_and_slow_backend_times_out(api: Api) -> None:
    api.backend.fail = Unavailable("engine down")
    resp = await api.client.get("/v1/search/products", headers=api.auth("a.search"))
    assert resp.status == 503 and resp.content_type == PROBLEM
    api.backend.fail = None
    api.backend.delay = 5.0
    resp = await api.client.get("/v1/search/products", headers=api.auth("a.search"))
    assert resp.status == 503 and (await resp.json())["type"].endswith("/timeout")


async def test_min_token_waits_for_indexing_or_answers_stale(api: Api) -> None:
    pool = api.client.app[RESOURCES].pool
    await make_tenant(CoreWrite(pool))
    token = await outbox_mark(pool)
    assert token > 0
    started = asyncio.get_running_loop().time()
    resp = await api.client.get(f"/v1/search/products?min_token={token}",
                                headers=api.auth("a.search"))
    assert resp.status == 200
    assert (await resp.json())["stale"] is True  # nothing acknowledged the row
    assert asyncio.get_running_loop().time() - started >= 1.0
    assert api.backend.caught_up_calls == 0  # a stale answer does not catch up
    await pool.execute("UPDATE outbox SET published_at = now(), stream_ms = 1, stream_seq = 0,"
                       " acked_at = now() WHERE seq <= $1", token)
    resp = await api.client.post("/v1/search/products", headers=api.auth("a.search"),
                                 json={"min_token": token})
    assert resp.status == 200 and (await resp.json())["stale"] is False
    assert api.backend.caught_up_calls == 1  # the backend saw what was applied first
    await pool.execute("DELETE FROM outbox WHERE seq = $1", token)
    resp = await api.client.get(f"/v1/search/products?min_token={token}",
                                headers=api.auth("a.search"))
    assert (await resp.json())["stale"] is False
    resp = await api.client.get("/v1/search/products?min_token=-3",
                                headers=api.auth("a.search"))
    assert resp.status == 422 and (await resp.json())["errors"][0]["field"] == "min_token"


async def test_suggest(api: Api) -> None:
    resp = await api.client.get("/v1/suggest?q=sho&type=content&limit=3",
                                headers=api.auth("b.search"))
    assert resp.status == 200
    body = await resp.json()
    assert body["suggestions"][0]["title"] == "shoxyz"
    doc_type, prefix, scope, limit = api.backend.suggest_calls[-1]
    assert (doc_type, prefix, limit) == ("content", "sho", 3)
    assert scope.tenant_id == api.tenants["b"]["id"]
    for qs, field in (("", "q"), ("q=a&type=x", "type"), ("q=a&limit=0", "limit"),
                      ("q=a&tenant=x", "tenant")):
        resp = await api.client.get(f"/v1/suggest?{qs}", headers=api.auth("b.search"))
        assert resp.status == 422, qs
        assert (await resp.json())["errors"][0]["field"] == field


async def test_cors_for_configured_origins_only(api: Api) -> None:
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    resp = await api.client.options("/v1/search/products", headers=preflight)
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    resp = await api.client.options("/v1/search/products",
                                    headers={**preflight, "Origin": "https://evil.example"})
    assert resp.status == 403
    resp = await api.client.get("/v1/search/products",
                                headers={**api.auth("a.search"), "Origin": ORIGIN})
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    resp = await api.client.get("/v1/search/products",
                                headers={**api.auth("a.search"), "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers


async def test_facets_come_labelled_in_the_documented_order(api: Api) -> None:
    """Every facet value as a list a storefront renders: value, count, label (option value,
    category name), category handle, option name; most documents first, then by label."""
    api.backend.facets = {
        "tags": {"b": 1, "sale": 3, "A": 1},
        "options": {"Size:M": 2, "Colour:red": 2, "Colour:navy": 5},
        "price": {"50000+": 1, "0-1000": 2, "1000-2500": 2},
        "categories": {str(uuid.uuid4()): 1}}
    resp = await api.client.get("/v1/search/products?facets=tags,options,price,categories"
                                "&currency=EUR", headers=api.auth("a.search"))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert list(body["facets"]["tags"]) == ["sale", "A", "b"]
    assert list(body["facets"]["options"]) == ["Colour:navy", "Size:M", "Colour:red"]
    assert list(body["facets"]["price"]) == ["0-1000", "1000-2500", "50000+"]
    assert body["facet_values"]["options"][0] == {
        "value": "Colour:navy", "count": 5, "label": "navy", "handle": None,
        "option": "Colour"}
    assert [v["label"] for v in body["facet_values"]["tags"]] == ["sale", "A", "b"]
    # an id no category of the tenant has keeps its value as its label
    [unknown] = body["facet_values"]["categories"]
    assert unknown["label"] == unknown["value"] and unknown["handle"] is None


async def test_option_filters_parse_from_query_strings(api: Api) -> None:
    resp = await api.client.get("/v1/search/products?filter.options=Colour:red,Size:M",
                                headers=api.auth("a.search"))
    assert resp.status == 200, await resp.text()
    query, _ = api.backend.calls[-1]
    assert query.filter.options == ["Colour:red", "Size:M"]  # type: ignore[union-attr]
    resp = await api.client.get("/v1/search/products?filter.options=red",
                                headers=api.auth("a.search"))
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"].startswith("filter.options")
