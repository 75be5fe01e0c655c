"""One vocabulary over HTTP: `products`/`content` wherever a type is named (the old `product`
still accepted), errors that name the parameter as the caller sent it, `filter.price` in the
request's currency, `min_token` in the documented model, and the reindex job list."""

from __future__ import annotations

from typing import Any

from search_api.model import SearchQuery
from search_api.wiring import RESOURCES
from tests.api_fixtures import Api, api_fixture  # noqa: F401 - the fixture


async def _problem(resp: Any) -> dict[str, Any]:
    body: dict[str, Any] = await resp.json()
    assert resp.status == 422, body
    return body


async def test_errors_name_the_parameter_the_caller_sent(api: Api) -> None:
    for qs, field in (("sort=price:asc", "currency"), ("facets=price", "currency"),
                      ("sort=stock:asc", "sort"), ("facets=colour", "facets"),
                      ("filter.price.min=100", "filter.price.currency")):
        resp = await api.client.get(f"/v1/search/products?{qs}", headers=api.auth("a.search"))
        body = await _problem(resp)
        assert [e["field"] for e in body["errors"]] == [field], (qs, body)
    resp = await api.client.post("/v1/search/products", headers=api.auth("a.search"),
                                 json={"sort": "price:desc"})
    assert (await _problem(resp))["errors"][0]["field"] == "currency"
    assert not api.backend.calls


async def test_price_filter_takes_the_request_currency(api: Api) -> None:
    resp = await api.client.get("/v1/search/products?currency=EUR&filter.price.max=5000",
                                headers=api.auth("a.search"))
    assert resp.status == 200, await resp.text()
    resp = await api.client.post("/v1/search/products", headers=api.auth("a.search"), json={
        "currency": "USD", "filter": {"price": {"min": 100}}, "sort": "price:asc"})
    assert resp.status == 200, await resp.text()
    resp = await api.client.post("/v1/search/products", headers=api.auth("a.search"), json={
        "currency": "USD", "filter": {"price": {"currency": "GBP", "min": 1}}})
    assert resp.status == 200
    prices = [q.filter.price for q, _ in api.backend.calls]  # type: ignore[union-attr]
    assert [(p.currency, p.min, p.max) for p in prices if p is not None] == [
        ("EUR", None, 5000), ("USD", 100, None), ("GBP", 1, None)]


async def test_document_types_are_products_and_content(api: Api) -> None:
    for given in ("products", "product"):  # `product`: the old spelling, deprecated
        resp = await api.client.post("/v1/search/products", headers=api.auth("a.search"),
                                     json={"doc_type": given, "min_token": 1})
        assert resp.status == 200, (given, await resp.text())
    assert [q.doc_type for q, _ in api.backend.calls] == ["product", "product"]
    resp = await api.client.post("/v1/search/content", headers=api.auth("a.search"),
                                 json={"doc_type": "products"})
    assert (await _problem(resp))["errors"][0]["field"] == "doc_type"
    doc = await (await api.client.get("/openapi.json")).json()
    query = doc["components"]["schemas"]["SearchQuery"]
    assert query["properties"]["doc_type"]["enum"] == ["products", "content"]
    assert "min_token" in query["properties"] and query["additionalProperties"] is False
    assert doc["paths"]["/v1/suggest"]["get"]["parameters"][1]["schema"]["enum"] == [
        "products", "content"]
    assert SearchQuery.model_validate({"doc_type": "products"}).doc_type == "product"


async def test_reindex_jobs_are_listed_with_progress(api: Api) -> None:
    created = []
    for who, body in (("a.admin", {"type": "products"}), ("b.admin", {}),
                      ("operator", {"tenant": api.tenants["a"]["slug"], "type": "content"})):
        resp = await api.client.post("/v1/admin/reindex", json=body, headers=api.auth(who))
        assert resp.status == 202
        created.append((await resp.json())["job"])
    assert created[0]["type"] == "products" and created[0]["doc_type"] == "product"
    pool = api.client.app[RESOURCES].pool
    await pool.execute("UPDATE index_jobs SET state = 'running', total = 40, done = 10 "
                       "WHERE id = $1", created[0]["id"])

    async def listed(who: str, qs: str = "") -> list[dict[str, Any]]:
        resp = await api.client.get(f"/v1/admin/reindex{qs}", headers=api.auth(who))
        body = await resp.json()
        assert resp.status == 200, body
        return list(body["jobs"])

    mine = await listed("a.admin")
    assert [j["id"] for j in mine] == [created[2]["id"], created[0]["id"]]  # newest first
    assert mine[1]["progress"] == 0.25 and mine[1]["state"] == "running"
    assert [j["id"] for j in await listed("a.admin", "?state=running")] == [created[0]["id"]]
    assert [j["type"] for j in await listed("operator", "?state=queued")] == ["content", None]
    assert len(await listed("operator", f"?tenant={api.tenants['b']['slug']}")) == 1
    assert len(await listed("operator", "?limit=1")) == 1
    for who, qs, status, field in (("a.admin", f"?tenant={api.tenants['b']['slug']}", 403,
                                    "tenant"),
                                   ("a.admin", "?tenant=nope", 403, "tenant"),
                                   ("operator", "?tenant=nope", 422, "tenant"),
                                   ("operator", "?state=paused", 422, "state"),
                                   ("operator", "?limit=0", 422, "limit"),
                                   ("operator", "?tenant_id=x", 422, "tenant_id")):
        resp = await api.client.get(f"/v1/admin/reindex{qs}", headers=api.auth(who))
        assert resp.status == status, (qs, await resp.text())
        assert (await resp.json())["errors"][0]["field"] == field
    resp = await api.client.get("/v1/admin/reindex", headers=api.auth("a.search"))
    assert resp.status == 403
