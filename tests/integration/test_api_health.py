"""Health, readiness, metrics and the OpenAPI document over HTTP (no key needed)."""

from __future__ import annotations

from search_api.wiring import RESOURCES
from tests.api_fixtures import Api, api_fixture  # noqa: F401 - the fixture


async def test_healthz_and_readyz(api: Api) -> None:
    resp = await api.client.get("/healthz")
    assert resp.status == 200 and (await resp.json()) == {"status": "ok"}
    resp = await api.client.get("/readyz")
    body = await resp.json()
    assert resp.status == 200, body
    assert set(body["checks"]) == {"postgres", "redis", "backend", "lag"}
    assert body["checks"]["backend"]["name"] == "canned"


async def test_readyz_fails_on_backend_or_lag(api: Api) -> None:
    api.backend.is_ready = False
    resp = await api.client.get("/readyz")
    body = await resp.json()
    assert resp.status == 503 and body["checks"]["backend"]["ok"] is False
    api.backend.is_ready = True
    pool = api.client.app[RESOURCES].pool
    await pool.execute(
        "INSERT INTO outbox (event_id, tenant_id, aggregate_type, aggregate_id, event_type,"
        " payload, created_at) VALUES (gen_random_uuid(), gen_random_uuid(), 'x',"
        " gen_random_uuid(), 'x', '{}', now() - interval '1 hour')")
    resp = await api.client.get("/readyz")
    body = await resp.json()
    assert resp.status == 503 and body["checks"]["lag"]["ok"] is False
    assert body["checks"]["lag"]["seconds"] >= 3600


async def test_metrics_expose_latency_in_flight_and_jobs(api: Api) -> None:
    await api.client.get("/v1/search/products", headers=api.auth("a.search"))
    await api.client.post("/v1/admin/reindex", json={}, headers=api.auth("a.admin"))
    resp = await api.client.get("/metrics")
    text = await resp.text()
    assert resp.status == 200
    assert 'rustok_api_request_seconds_count{backend="canned",method="GET",' \
           'route="/v1/search/products",status="200"}' in text
    assert "rustok_api_requests_in_flight" in text
    assert 'rustok_api_reindex_jobs{state="queued"}' in text


async def test_openapi_lists_every_served_route(api: Api) -> None:
    resp = await api.client.get("/openapi.json")
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    served: dict[str, set[str]] = {}
    for route in api.client.app.router.routes():
        if route.method != "HEAD":
            served.setdefault(route.resource.canonical, set()).add(  # type: ignore[union-attr]
                route.method.lower())
    documented = {path: set(ops) for path, ops in doc["paths"].items()}
    assert served == documented
