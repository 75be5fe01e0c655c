"""Query-string parsing, problem+json shapes, key hashing and the OpenAPI document (pure)."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp.http_exceptions import BadHttpMessage, BadHttpMethod, LineTooLong
from pydantic import ValidationError

from core_write.settings import Settings, SettingsError, load_settings
from search_api.app import Deadlines, create_app
from search_api.auth import KEY_PREFIX, ApiKey, generate_key, hash_key
from search_api.errors import Problem, from_validation
from search_api.filters import ContentFilter
from search_api.model import SearchQuery
from search_api.openapi import build_document
from search_api.params import filter_path, parse_search_params, parse_token
from search_api.protocol import parser_problem


def test_bracket_and_dotted_filters_are_the_same() -> None:
    bracket, _ = parse_search_params([("filter[tags]", "a,b"), ("filter[price][min]", "5")])
    dotted, _ = parse_search_params([("filter.tags", "a"), ("filter.tags", "b"),
                                     ("filter.price.min", "5")])
    assert bracket == dotted == {"filter": {"tags": ["a", "b"], "price": {"min": 5}}}


def test_scalars_lists_and_token() -> None:
    data, token = parse_search_params([("q", "x"), ("facets", "tags, price"),
                                       ("highlight", "0"), ("min_token", "42"),
                                       ("price_buckets", "10,20")])
    assert data == {"q": "x", "facets": ["tags", "price"], "highlight": False,
                    "price_buckets": [10, 20]}
    assert token == 42
    query = SearchQuery.model_validate({**data, "currency": "EUR"})
    assert query.price_buckets == (10, 20)


@pytest.mark.parametrize(("pairs", "status", "field"), [
    ([("tenant", "x")], 422, "tenant"),
    ([("q", "a"), ("q", "b")], 400, "q"),
    ([("filter[", "1")], 400, "filter["),
    ([("filter[a][b][c]", "1")], 400, "filter[a][b][c]"),
    ([("filter[tags]", "a"), ("filter.tags", "b")], 400, "filter.tags"),
    ([("highlight", "maybe")], 422, "highlight"),
    ([("min_token", "0")], 422, "min_token"),
    ([("min_token", "1e3")], 422, "min_token"),
    ([("min_token", "\u00b2")], 422, "min_token"),
    ([("page", "+2")], 422, "page"),
    ([("page", "2.0")], 422, "page"),
    ([("facets", "tags,,price")], 422, "facets"),
    ([("facets", "")], 422, "facets"),
    ([("filter[price][min]", "\u0665")], 422, "filter[price][min]"),
    ([("filter[has_stock]", "maybe")], 422, "filter[has_stock]"),
])
def test_bad_parameters_name_the_field(pairs: list[tuple[str, str]], status: int,
                                       field: str) -> None:
    with pytest.raises(Problem) as caught:
        parse_search_params(pairs)
    assert caught.value.status == status
    assert caught.value.errors[0]["field"] == field


def test_filter_path() -> None:
    assert filter_path("q") is None
    assert filter_path("filter[published][gte]") == ["published", "gte"]
    assert filter_path("filter.price.max") == ["price", "max"]


def test_token_rejects_bools_and_huge_numbers() -> None:
    assert parse_token(7) == 7
    for bad in (True, 0, -1, 2**63, "x", None, 1.5):
        with pytest.raises(Problem):
            parse_token(bad)


def test_problem_body_follows_rfc_9457() -> None:
    problem = Problem(422, "q: too long", errors=[{"field": "q", "message": "too long"}])
    response = problem.response("/v1/search/products")
    assert response.content_type == "application/problem+json"
    assert response.text is not None
    body = json.loads(response.text)
    assert body == {"type": "https://rustok-search.dev/problems/unprocessable-content",
                    "title": "Unprocessable Content", "status": 422, "detail": "q: too long",
                    "instance": "/v1/search/products",
                    "errors": [{"field": "q", "message": "too long"}]}


def test_pydantic_errors_become_dotted_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        SearchQuery.model_validate({"page": 0, "per_page": "x"})
    problem = from_validation(caught.value)
    assert problem.status == 422
    assert {e["field"] for e in problem.errors} == {"page", "per_page"}


def test_keys_are_random_prefixed_and_hashed() -> None:
    one, two = generate_key(), generate_key()
    assert one.startswith(KEY_PREFIX) and one != two and len(one) == len(KEY_PREFIX) + 43
    assert hash_key(one) != hash_key(two) and len(hash_key(one)) == 32


def test_key_scopes() -> None:
    import uuid

    tenant = uuid.uuid4()
    assert ApiKey(uuid.uuid4(), tenant, "search").scope().include_drafts is False
    assert ApiKey(uuid.uuid4(), tenant, "admin").scope().include_drafts is True
    assert ApiKey(uuid.uuid4(), tenant, "admin").may_manage(tenant)
    assert not ApiKey(uuid.uuid4(), tenant, "admin").may_manage(uuid.uuid4())
    assert not ApiKey(uuid.uuid4(), tenant, "admin").may_manage(None)
    assert not ApiKey(uuid.uuid4(), tenant, "search").may_manage(tenant)
    assert ApiKey(uuid.uuid4(), None, "operator").may_manage(None)
    with pytest.raises(Problem):
        ApiKey(uuid.uuid4(), None, "operator").scope()


def test_openapi_paths_match_the_router() -> None:
    app = create_app(Settings())
    served: dict[str, set[str]] = {}
    for route in app.router.routes():
        if route.method != "HEAD" and route.resource is not None:
            served.setdefault(route.resource.canonical, set()).add(route.method.lower())
    doc = build_document()
    assert served == {path: set(ops) for path, ops in doc["paths"].items()}
    json.dumps(doc)  # serializable
    assert {"SearchQuery", "SearchResult", "Problem", "ReindexRequest"} <= set(
        doc["components"]["schemas"])


def test_api_settings() -> None:
    settings = load_settings(API_CORS_ORIGINS="https://a.example, http://b.example:8080/",
                             SEARCH_BACKEND="postgres")
    assert settings.api_cors_origins == ("https://a.example", "http://b.example:8080")
    assert settings.api_port == 8080 and settings.api_host == "127.0.0.1"
    for bad in ({"API_CORS_ORIGINS": "nope"}, {"SEARCH_BACKEND": "solr"},
                {"API_PORT": "70000"}, {"READY_MAX_LAG_SECONDS": "0"}):
        with pytest.raises(SettingsError):
            load_settings(**bad)


@pytest.mark.parametrize(("data", "field"), [
    ({"q": "a\u0000b"}, "q"),
    ({"page": "2"}, "page"),
    ({"page": True}, "page"),
    ({"highlight": 1}, "highlight"),
    ({"price_buckets": [2**63]}, "price_buckets.0"),
    ({"filter": {"price": {"currency": "EUR", "min": 2**63}}}, "price.min"),
    ({"filter": {"tags": [""]}}, "tags.0"),
])
def test_the_model_refuses_what_the_document_forbids(data: dict[str, object],
                                                     field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SearchQuery.model_validate(data)
    assert field in [e["field"] for e in from_validation(caught.value).errors]


def test_json_integral_numbers_are_integers() -> None:
    query = SearchQuery.model_validate({"page": 2.0, "price_buckets": [5.0, 7]})
    assert query.page == 2 and query.price_buckets == (5, 7)


@pytest.mark.parametrize("text", ["2024-02-29T00:00:00Z", "1700-01-01T00:00:00+14:00",
                                  "2199-12-31T23:59:59.123456-05:30"])
def test_dates_inside_the_bounds(text: str) -> None:
    assert ContentFilter.model_validate({"published": {"gte": text}}).published is not None


@pytest.mark.parametrize("text", ["2023-02-29T00:00:00Z", "9999-12-31T00:00:00Z",
                                  "1699-12-31T23:59:59Z", "2024-01-01", "2024-01-01T00:00:00",
                                  "2024-01-01t00:00:00z", "2024-01-01T00:00:00Z\n", 1700000000])
def test_dates_outside_the_bounds(text: object) -> None:
    with pytest.raises(ValidationError):
        ContentFilter.model_validate({"published": {"gte": text}})


def test_parser_problems_quote_nothing() -> None:
    secret = "rsk_secret"
    for exc in (LineTooLong(f"Bearer {secret}", 8190), BadHttpMethod(f"GE{{T {secret}"),
                BadHttpMessage(f"Invalid header value char: {secret}")):
        problem = parser_problem(exc, 400)
        assert problem.status == 400 and secret not in json.dumps(problem.body())


async def test_stopping_brings_deadlines_forward_never_back() -> None:
    deadlines = Deadlines()
    now = asyncio.get_running_loop().time()
    async with asyncio.timeout(100) as late, asyncio.timeout(0.5) as early:
        with deadlines.track(late), deadlines.track(early):
            assert deadlines.stop_by(now + 2) == 2
            assert late.when() == now + 2 and early.when() is not None
            assert early.when() < now + 1  # type: ignore[operator]
            await asyncio.sleep(0)
    async with asyncio.timeout(100) as started_after:
        with deadlines.track(started_after):
            assert started_after.when() == now + 2
            await asyncio.sleep(0)
