"""Input beyond what a backend can represent gets a 422 problem naming the parameter, on the
real Postgres and Tantivy backends over indexed documents (each of these was a 500): a price
bound of 2^63, a date in year 9999 (Tantivy holds 1677-2262), stream ids beyond u64 in the
dead-letter routes, NUL in `q`, tags or the suggest prefix (PostgreSQL text cannot hold it),
NUL in a tenant slug."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from core_write.settings import Settings
from core_write.unit import CoreWrite
from search_api.app import create_app
from tests.api_fixtures import api_settings, indexed_catalog
from tests.pipeline import Pipeline

PRODUCTS_URL = "/v1/search/products"
CONTENT_URL = "/v1/search/content"
BEYOND_BIGINT = 2**63
BEYOND_U64 = "18446744073709551616"
CASES: list[tuple[str, str, Any, str]] = [
    # (method, path, JSON body or None, the field the problem must name)
    ("GET", f"{PRODUCTS_URL}?filter[price][currency]=EUR&filter[price][min]={BEYOND_BIGINT}",
     None, "filter.price.min"),
    ("GET", f"{PRODUCTS_URL}?filter.price.currency=EUR&filter.price.max=1{'0' * 25}", None,
     "filter.price.max"),
    ("POST", PRODUCTS_URL, {"filter": {"price": {"currency": "EUR", "min": BEYOND_BIGINT}}},
     "filter.price.min"),
    ("POST", PRODUCTS_URL, {"currency": "EUR", "facets": ["price"],
                            "price_buckets": [1, BEYOND_BIGINT]}, "price_buckets.1"),
    ("GET", f"{CONTENT_URL}?filter[published][gte]=9999-12-31T00:00:00Z", None,
     "filter.published.gte"),
    ("POST", CONTENT_URL, {"filter": {"published": {"lte": "2262-04-12T00:00:00Z"}}},
     "filter.published.lte"),
    ("POST", CONTENT_URL, {"filter": {"published": {"gte": "0001-01-01T00:00:00Z"}}},
     "filter.published.gte"),
    # one currency rule for every backend: Postgres answered 0 hits, the engines refused
    ("GET", f"{PRODUCTS_URL}?currency=ZZZ&sort=price:asc", None, "currency"),
    ("POST", PRODUCTS_URL, {"filter": {"price": {"currency": "ABC", "max": 100}}},
     "filter.price.currency"),
    ("GET", f"{PRODUCTS_URL}?q=red%00shoe", None, "q"),
    ("POST", PRODUCTS_URL, {"q": "red\u0000shoe"}, "q"),
    ("POST", PRODUCTS_URL, {"filter": {"tags": ["sale\u0000"]}}, "filter.tags.0"),
    ("GET", "/v1/suggest?q=le%00", None, "q"),
    ("GET", f"/v1/admin/dlq?after={BEYOND_U64}-0", None, "after"),
    ("POST", "/v1/admin/dlq/replay", {"ids": [f"1-{BEYOND_U64}"]}, "ids.0"),
    ("POST", "/v1/admin/reindex", {"tenant": "shop\u0000"}, "tenant"),
    ("POST", "/v1/admin/reindex", {"tenant": "shop", "type": "products", "id": "x\u0000"},
     "id"),
]


@pytest.fixture
async def clients(settings: Settings, core: CoreWrite, pipeline: Pipeline,
                  redis_client: aioredis.Redis, tmp_path: Path,
                  ) -> AsyncIterator[tuple[dict[str, TestClient[Any, Any]], dict[str, str]]]:
    """An API client per backend over an indexed catalog, and admin/operator keys."""
    conf = api_settings(settings, tantivy_dir=str(tmp_path))
    keys = await indexed_catalog(conf, core, pipeline, redis_client)
    clients: dict[str, TestClient[Any, Any]] = {}
    try:
        for backend in ("postgres", "tantivy"):
            app = create_app(conf.model_copy(update={"search_backend": backend}))
            clients[backend] = TestClient(TestServer(app))
            await clients[backend].start_server()
        yield clients, keys
    finally:
        for client in clients.values():
            await client.close()


async def test_bounds_beyond_a_backend_are_422_naming_the_parameter(
    clients: tuple[dict[str, TestClient[Any, Any]], dict[str, str]]
) -> None:
    by_backend, keys = clients
    for backend, client in by_backend.items():
        for method, path, body, field in CASES:
            who = "operator" if "/admin/" in path else "admin"
            headers = {"Authorization": f"Bearer {keys[who]}"}
            resp = await (client.get(path, headers=headers) if method == "GET"
                          else client.post(path, json=body, headers=headers))
            problem = await resp.json(content_type=None)
            assert resp.status == 422, (backend, method, path, problem)
            assert resp.content_type == "application/problem+json"
            assert field in [error["field"] for error in problem["errors"]], \
                (backend, path, problem)


async def test_the_largest_representable_bounds_are_answered(
    clients: tuple[dict[str, TestClient[Any, Any]], dict[str, str]]
) -> None:
    by_backend, keys = clients
    headers = {"Authorization": f"Bearer {keys['admin']}"}
    for backend, client in by_backend.items():
        resp = await client.post(PRODUCTS_URL, headers=headers, json={
            "filter": {"price": {"currency": "EUR", "min": 0, "max": BEYOND_BIGINT - 1}},
            "currency": "EUR", "facets": ["price"], "price_buckets": [1, BEYOND_BIGINT - 1]})
        body = await resp.json()
        assert resp.status == 200 and body["total"] > 0, (backend, body)
        resp = await client.get(
            f"{CONTENT_URL}?filter[published][gte]=1700-01-01T00:00:00%2B14:00"
            "&filter[published][lte]=2199-12-31T23:59:59.999999-14:00", headers=headers)
        body = await resp.json()
        assert resp.status == 200 and body["total"] > 0, (backend, body)
        resp = await client.get(f"/v1/admin/dlq?after={'9' * 19}-0", headers={
            "Authorization": f"Bearer {keys['operator']}"})
        assert resp.status == 200, await resp.text()
