"""Search and suggest handlers: GET query strings and POST bodies become one `SearchQuery`,
searched within the key's own scope (I/O: the backend, PostgreSQL for read-your-writes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from core_write.errors import RustokError
from indexer.model import DocType
from indexer.model.relevance import SearchSettings
from search_api import metrics, rules
from search_api.auth import ApiKey, require_role
from search_api.errors import Problem, field_error, from_validation
from search_api.facet_labels import facet_names, labelled
from search_api.filters import ContentFilter, ProductFilter
from search_api.freshness import BACKLOG, engine_of, wait_indexed
from search_api.merchandising import search_with_plan
from search_api.model import DOC_TYPES, PUBLIC_DOC_TYPES, SearchQuery, default_price_currency
from search_api.params import parse_int, parse_search_params, parse_token
from search_api.results import SearchResult
from search_api.value_types import schema_regex
from search_api.wiring import BACKEND, RELEVANCE, RESOURCES, SETTINGS

routes = web.RouteTableDef()
JSON = "application/json"
MAX_TOKEN_WAIT = 2.0
TOKEN_WAIT_SHARE = 0.5
"""At most this share of the request timeout goes to waiting for a consistency token."""


async def read_json(request: web.Request) -> Any:
    """The body as JSON: 400 if it is not JSON, 413 (from aiohttp) if it is too large."""
    raw = await request.read()
    if not raw.strip():
        raise field_error("body", "a JSON body is required", status=400)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise field_error("body", f"malformed JSON: {str(exc)[:200]}", status=400) from None


def _query(data: dict[str, Any], doc_type: DocType, key: ApiKey) -> SearchQuery:
    given = data.get("doc_type", doc_type)
    if not isinstance(given, str) or DOC_TYPES.get(given, given) != doc_type:
        raise field_error("doc_type", f"this endpoint searches {PUBLIC_DOC_TYPES[doc_type]}")
    data = default_price_currency(data)
    if isinstance(data.get("filter"), dict):
        # validate the filter on its own first, so errors carry the `filter.` prefix; the
        # query then takes the validated model as it is
        kind = ContentFilter if doc_type == "content" else ProductFilter
        try:
            data = {**data, "filter": kind.model_validate(data["filter"])}
        except ValidationError as exc:
            raise from_validation(exc, prefix="filter") from None
    try:
        query = SearchQuery.model_validate({**data, "doc_type": doc_type})
    except ValidationError as exc:
        raise from_validation(exc) from None
    statuses = query.filter.status if query.filter is not None else None
    if key.role == "search" and statuses and set(statuses) != {"published"}:
        raise Problem(403, "search keys see published documents only",
                      errors=[{"field": "filter.status", "message": "admin keys only"}],
                      slug="forbidden")
    return query


def with_default_sort(query: SearchQuery, settings: SearchSettings) -> SearchQuery:
    """The tenant's default sort for a search that names none (a price sort only when the
    search has a currency to sort by)."""
    if "sort" in query.model_fields_set:
        return query
    sort = getattr(settings.default_sort, PUBLIC_DOC_TYPES[query.doc_type])
    if sort == query.sort or (sort.startswith("price") and query.price_currency is None):
        return query
    return query.model_copy(update={"sort": sort})


async def run_search(request: web.Request, doc_type: DocType, data: dict[str, Any],
                     token: int | None) -> web.Response:
    key = require_role(request, "search", "admin")
    result = await search(request.app, key, doc_type, data, token)
    # pydantic-core serializes straight to JSON bytes: no intermediate dicts, no json.dumps
    return web.Response(body=result.model_dump_json().encode(), content_type=JSON)


async def search(app: web.Application, key: ApiKey, doc_type: DocType, data: dict[str, Any],
                 token: int | None) -> SearchResult:
    """Validate `data` as a `SearchQuery`, wait for `token` (bounded) and search within the
    key's scope: the one search path of REST and GraphQL."""
    scope = key.scope()
    query = _query(data, doc_type, key)
    backend = app[BACKEND]
    stale = app[BACKLOG].stale(scope.tenant_id)
    if token is not None:
        settings = app[SETTINGS]
        budget = min(MAX_TOKEN_WAIT, settings.api_request_timeout_ms / 1000 * TOKEN_WAIT_SHARE)
        applied = await wait_indexed(app[RESOURCES].pool, token, scope.tenant_id,
                                     engine_of(backend), budget)
        if applied:
            await backend.caught_up()
        stale = not applied or stale
    if stale:
        metrics.STALE_ANSWERS.labels(backend.name).inc()
    relevance = await app[RELEVANCE].get(app[RESOURCES].pool, scope.tenant_id)
    query = with_default_sort(query, relevance.settings)
    rules_of_text = relevance.text_rules(query.locale)
    if not rules_of_text.plain:
        scope = scope.model_copy(update={"text_rules": rules_of_text})
    plan = rules.plan(relevance.rules, query, datetime.now(UTC)) if relevance.rules \
        else rules.Plan()
    try:
        result: SearchResult = await search_with_plan(backend, query, scope, plan)
    except (RustokError, TimeoutError) as exc:
        metrics.SEARCH_ERRORS.labels(backend.name, type(exc).__name__).inc()
        raise
    except Exception:
        metrics.SEARCH_ERRORS.labels(backend.name, "internal").inc()
        raise
    if result.facets:
        names = await facet_names(app[RESOURCES].pool, scope.tenant_id, query.doc_type,
                                  result.facets)
        result = labelled(result, names)
    if stale or plan.applied:
        result = result.model_copy(update={
            "stale": stale, "applied_rules": list(plan.applied), "redirect": plan.redirect,
            "banners": list(plan.banners)})
    return result


async def _get(request: web.Request, doc_type: DocType) -> web.Response:
    data, token = parse_search_params(request.query.items())
    return await run_search(request, doc_type, data, token)


async def _post(request: web.Request, doc_type: DocType) -> web.Response:
    require_role(request, "search", "admin")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise field_error("body", "must be a JSON object")
    given = body.pop("min_token", None)  # null: none, as the document allows
    token = parse_token(given, text=False) if given is not None else None
    if "min_token" in request.query:
        token = parse_token(request.query["min_token"])
    return await run_search(request, doc_type, body, token)


@routes.get("/v1/search/products")
async def search_products_get(request: web.Request) -> web.Response:
    return await _get(request, "product")


@routes.post("/v1/search/products")
async def search_products_post(request: web.Request) -> web.Response:
    return await _post(request, "product")


@routes.get("/v1/search/content")
async def search_content_get(request: web.Request) -> web.Response:
    return await _get(request, "content")


@routes.post("/v1/search/content")
async def search_content_post(request: web.Request) -> web.Response:
    return await _post(request, "content")


SUGGEST_PARAMS = frozenset({"q", "type", "limit"})
SUGGEST_PREFIX = r"^(?=[\s\S]{1,100}$)[^\x00]*[^\s\x00][^\x00]*$"
"""1-100 characters, one of them not blank, no NUL (the document publishes this pattern)."""
_SUGGEST_PREFIX_RE = schema_regex(SUGGEST_PREFIX)
MAX_SUGGESTIONS = 20


@routes.get("/v1/suggest")
async def suggest(request: web.Request) -> web.Response:
    key = require_role(request, "search", "admin")
    scope = key.scope()
    for name in request.query:
        if name not in SUGGEST_PARAMS:
            raise field_error(name[:64], "unknown parameter")
        if len(request.query.getall(name)) > 1:
            raise field_error(name, "given more than once", status=400)
    raw_prefix = request.query.get("q", "")
    if not _SUGGEST_PREFIX_RE.match(raw_prefix):
        raise field_error("q", "a prefix of 1-100 characters, not all blank, without NUL")
    prefix = raw_prefix.strip()
    kind = request.query.get("type", "products")
    if kind not in DOC_TYPES:
        raise field_error("type", "must be 'products' or 'content'")
    limit = parse_int(request.query.get("limit", "8"), "limit", 1, MAX_SUGGESTIONS)
    backend = request.app[BACKEND]
    try:
        found = await backend.suggest(DOC_TYPES[kind], prefix, scope, limit)
    except Exception:
        metrics.SEARCH_ERRORS.labels(backend.name, "suggest").inc()
        raise
    return web.json_response({"suggestions": [s.model_dump(mode="json") for s in found],
                              "backend": backend.name})

