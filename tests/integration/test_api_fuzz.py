"""Fuzzing the HTTP surface with hypothesis: arbitrary query strings and JSON bodies on every
endpoint must never yield a 5xx, and every error must be problem+json (canned test-double
backend, real PostgreSQL and Redis for keys and admin calls)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api_fixtures import Api, api_fixture  # noqa: F401 - the fixture

NAMES = ["q", "sort", "page", "per_page", "highlight", "currency", "facets", "min_token",
         "price_buckets", "filter[categories]", "filter.tags", "filter[price][min]",
         "filter[price][currency]", "filter.published.gte", "filter[status]", "filter[kind]",
         "filter[has_stock]", "filter[", "filter[a][b][c]", "tenant", "type", "limit", "after",
         "doc_type"]
VALUES = st.one_of(
    st.sampled_from(["", "0", "-1", "1", "99999999999999999999", "true", "EUR", "eur",
                     "price:asc", "title:desc", "tags,price", "draft", "post",
                     "00000000-0000-0000-0000-000000000001", "1-0", "2024-01-01T00:00:00Z",
                     "null", "[]", "{}", "%00", "\u0000", "💥"]),
    st.text(max_size=40))
PAIRS = st.lists(st.tuples(st.one_of(st.sampled_from(NAMES), st.text(max_size=12)), VALUES),
                 max_size=8)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(NAMES + ["filter", "ids", "id", "price", "min", "max",
                                               "categories", "tags", "published"])
                      | st.text(max_size=8), inner, max_size=5),
    max_leaves=20)
GET_PATHS = ["/v1/search/products", "/v1/search/content", "/v1/suggest", "/v1/admin/dlq"]
POST_PATHS = ["/v1/search/products", "/v1/search/content", "/v1/admin/reindex"]
WHO = ["a.search", "a.admin", "operator"]
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


async def _check(resp: Any) -> None:
    assert resp.status < 500, await resp.text()
    if resp.status >= 400:
        assert resp.content_type == "application/problem+json"
        body = await resp.json()
        assert body["status"] == resp.status and body["title"] and body["type"]


@FUZZ
@given(path=st.sampled_from(GET_PATHS), pairs=PAIRS, who=st.sampled_from(WHO))
async def test_query_strings_never_5xx(api: Api, path: str, pairs: list[tuple[str, str]],
                                       who: str) -> None:
    resp = await api.client.get(path, params=pairs, headers=api.auth(who))
    await _check(resp)


@FUZZ
@given(path=st.sampled_from(POST_PATHS), body=JSON, who=st.sampled_from(WHO))
async def test_json_bodies_never_5xx(api: Api, path: str, body: Any, who: str) -> None:
    resp = await api.client.post(path, json=body, headers=api.auth(who))
    await _check(resp)


@FUZZ
@given(path=st.sampled_from(POST_PATHS), raw=st.binary(max_size=64))
async def test_raw_bytes_never_5xx(api: Api, path: str, raw: bytes) -> None:
    resp = await api.client.post(path, data=raw, headers={
        **api.auth("a.admin"), "Content-Type": "application/json"})
    await _check(resp)
