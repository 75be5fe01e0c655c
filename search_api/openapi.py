"""The OpenAPI 3.1 document of the HTTP API, built in code from the pydantic models (pure).

A test compares its paths with the routes the app serves, so the two cannot drift apart.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from search_api.model import SearchQuery, SearchResult, Suggestion

REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


PROBLEMS = {code: {"description": text, "content": {
    "application/problem+json": {"schema": _ref("Problem")}}} for code, text in {
    "400": "malformed JSON or query-string syntax", "401": "missing or unknown API key",
    "403": "the key's role or tenant does not allow this",
    "413": "the body is larger than API_MAX_BODY_BYTES", "414": "the query string is too long",
    "422": "a parameter is invalid (`errors` names it)",
    "503": "a dependency is unavailable or the request timed out"}.items()}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: PROBLEMS[code] for code in codes}


def _param(name: str, description: str, schema: dict[str, Any] | None = None,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


SEARCH_PARAMS = [
    _param("q", "full-text query"),
    _param("filter", "filters as `filter[field]=a,b` or `filter.field=a,b`; ranges as "
                     "`filter[price][min]=100` (in `filter.price.currency`, by default the "
                     "request's `currency`), `filter.published.gte=2024-01-01T00:00:00Z`",
           {"type": "object"}),
    _param("facets", "comma-separated facet names"),
    _param("sort", "`relevance` (default), `price:asc`, `published_at:desc`, ..."),
    _param("page", "page number from 1", {"type": "integer", "minimum": 1}),
    _param("per_page", "hits per page", {"type": "integer", "minimum": 1, "maximum": 100}),
    _param("highlight", "wrap matches in <mark>", {"type": "boolean"}),
    _param("currency", "ISO 4217 currency of price sort, facet and stats, and the default "
                       "of `filter.price.currency`"),
    _param("price_buckets", "comma-separated increasing bucket bounds (minor units)"),
    _param("min_token", "consistency token of a write: wait (up to 2 s) until it is indexed, "
                        "else answer with `stale: true`", {"type": "integer", "minimum": 1}),
]
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]


def _search_path(kind: str) -> dict[str, Any]:
    codes = ("400", "401", "403", "413", "422", "503")
    return {
        "get": {"summary": f"Search {kind} (query string)", "security": SECURITY,
                "parameters": SEARCH_PARAMS, "responses": {
                    "200": _json(_ref("SearchResult")), **_errors(*codes)}},
        "post": {"summary": f"Search {kind} (JSON body)",
                 "security": SECURITY,
                 "requestBody": {"required": True, "content": {
                     "application/json": {"schema": _ref("SearchQuery")}}},
                 "responses": {"200": _json(_ref("SearchResult")), **_errors(*codes)}},
    }


def _paths() -> dict[str, Any]:
    admin = ("400", "401", "403", "413", "422", "503")
    return {
        "/v1/search/products": _search_path("products"),
        "/v1/search/content": _search_path("content"),
        "/v1/suggest": {"get": {
            "summary": "Title suggestions for a prefix", "security": SECURITY,
            "parameters": [
                _param("q", "prefix", required=True),
                _param("type", "document type", {"enum": ["products", "content"]}),
                _param("limit", "suggestions", {"type": "integer", "minimum": 1,
                                                "maximum": 20})],
            "responses": {"200": _json({"type": "object", "properties": {
                "suggestions": {"type": "array", "items": _ref("Suggestion")},
                "backend": {"type": "string"}}}), **_errors("401", "403", "422", "503")}}},
        "/v1/admin/reindex": {"get": {
            "summary": "Reindex jobs with their progress, newest first (admin: own tenant; "
                       "operator: any)", "security": SECURITY,
            "parameters": [
                _param("state", "comma-separated states: queued, running, succeeded, failed"),
                _param("tenant", "tenant slug or id (operator keys; admin keys see their own)"),
                _param("limit", "jobs", {"type": "integer", "minimum": 1, "maximum": 100})],
            "responses": {"200": _json({"type": "object", "properties": {
                "jobs": {"type": "array", "items": _ref("Job")}}}),
                **_errors("401", "403", "422", "503")}}, "post": {
            "summary": "Queue a reindex (admin: own tenant; operator: any)",
            "security": SECURITY,
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("ReindexRequest")}}},
            "responses": {"202": _json({"type": "object", "properties": {
                "job": _ref("Job")}}, "queued"), **_errors(*admin)}}},
        "/v1/admin/reindex/{job}": {"get": {
            "summary": "A reindex job and its progress", "security": SECURITY,
            "parameters": [{"name": "job", "in": "path", "required": True,
                            "schema": {"type": "string", "format": "uuid"}}],
            "responses": {"200": _json({"type": "object", "properties": {
                "job": _ref("Job")}}), "404": PROBLEMS["422"] | {
                "description": "no such job"}, **_errors("401", "403", "422", "503")}}},
        "/v1/admin/dlq": {"get": {
            "summary": "Dead-lettered events (operator), oldest first", "security": SECURITY,
            "parameters": [
                _param("after", "entry id to continue after (the previous `next`)"),
                _param("limit", "entries", {"type": "integer", "minimum": 1,
                                            "maximum": 500}),
                _param("queue", "`events` (the indexer's) or `engine` (documents an "
                                "external engine refused)",
                       {"type": "string", "enum": ["events", "engine"]})],
            "responses": {"200": _json({"type": "object", "properties": {
                "entries": {"type": "array", "items": {"type": "object"}},
                "next": {"type": ["string", "null"]}, "total": {"type": "integer"}}}),
                **_errors("401", "403", "422", "503")}}},
        "/v1/admin/dlq/replay": {"post": {
            "summary": "Put dead letters back on the event stream, or refused documents back "
                       "in the engine queue (operator)",
            "security": SECURITY,
            "requestBody": {"required": False, "content": {
                "application/json": {"schema": _ref("ReplayRequest")}}},
            "responses": {"200": _json({"type": "object", "properties": {
                "replayed": {"type": "array", "items": {"type": "object"}},
                "missing": {"type": "array", "items": {"type": "string"}}}}),
                **_errors(*admin)}}},
        "/": {"get": {"summary": "The search preview page (HTML; paste a search key)",
                      "responses": {"200": {"description": "OK", "content": {
                          "text/html": {"schema": {"type": "string"}}}}}}},
        "/preview/{name}": {"get": {
            "summary": "The preview page's script and style sheet",
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"enum": ["app.js", "style.css"]}}],
            "responses": {"200": {"description": "OK", "content": {
                "text/javascript": {"schema": {"type": "string"}},
                "text/css": {"schema": {"type": "string"}}}},
                "404": {"description": "no such file"}}}},
        "/healthz": {"get": {"summary": "The process is alive",
                             "responses": {"200": _json({"type": "object"})}}},
        "/readyz": {"get": {"summary": "PostgreSQL, Redis, the backend answer; lag is low",
                            "responses": {"200": _json({"type": "object"}),
                                          "503": _json({"type": "object"}, "not ready")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {
            "description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/openapi.json": {"get": {"summary": "This document",
                                  "responses": {"200": _json({"type": "object"})}}},
    }


@cache
def build_document() -> dict[str, Any]:
    from search_api.routes_admin import ReindexRequest, ReplayRequest

    _, defs = models_json_schema(
        [(m, "validation") for m in (SearchQuery, ReindexRequest, ReplayRequest)]
        + [(m, "serialization") for m in (SearchResult, Suggestion)],
        ref_template=REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Problem"] = {"type": "object", "required": ["type", "title", "status"],
                          "properties": {
                              "type": {"type": "string"}, "title": {"type": "string"},
                              "status": {"type": "integer"}, "detail": {"type": "string"},
                              "instance": {"type": "string"},
                              "errors": {"type": "array", "items": {
                                  "type": "object", "properties": {
                                      "field": {"type": "string"},
                                      "message": {"type": "string"}}}}}}
    schemas["Job"] = {"type": "object", "properties": {
        name: {"type": kind} for name, kind in {
            "id": "string", "tenant_id": ["string", "null"], "type": ["string", "null"],
            "doc_type": ["string", "null"], "doc_id": ["string", "null"], "state": "string",
            "total": "integer", "done": "integer", "progress": "number", "errors": "integer",
            "rate": "number", "error": ["string", "null"], "attempts": "integer"}.items()}}
    schemas["Job"]["properties"]["type"]["enum"] = ["products", "content", None]
    schemas["Job"]["properties"]["doc_type"].update(
        deprecated=True, description="the internal name (`product`); use `type`")
    return {
        "openapi": "3.1.0",
        "info": {"title": "RusToK Search API", "version": "1"},
        "paths": _paths(),
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}},
    }
