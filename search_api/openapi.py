"""The OpenAPI 3.1 document of the HTTP API, built in code from the pydantic models (pure):
the paths of each family of routes come from its `openapi_*` module; here the service's own
pages join them. A test compares the paths with the routes the app serves, so they cannot drift.
"""

from __future__ import annotations

from copy import deepcopy
from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from search_api.model import SearchQuery
from search_api.openapi_accounts import account_paths
from search_api.openapi_admin import admin_paths, job_schema
from search_api.openapi_blocks import (
    PROBLEM_SCHEMA,
    REF,
    SECURITY,
    json_response,
    obj,
    param,
    problems,
    ref,
)
from search_api.openapi_import import import_job_schema, import_paths
from search_api.openapi_relevance import relevance_paths
from search_api.openapi_search import search_body, search_paths
from search_api.results import SearchResult, Suggestion


def _paths() -> dict[str, Any]:
    return {
        **search_paths(),
        **admin_paths(),
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
        **account_paths(),
        **import_paths(),
        **relevance_paths(),
        "/graphql": {
            "get": {"summary": "GraphQL query (not mutation) as `query`, `variables` (JSON) and "
                               "`operationName` parameters; schema: `{ _service { sdl } }`",
                    "security": SECURITY, "parameters": [
                        param("query", "the GraphQL document", required=True),
                        param("variables", "JSON object"), param("operationName", "")],
                    "responses": {"200": json_response(ref("GraphQLResponse")),
                                  **problems("400", "401", "503")}},
            "post": {"summary": "GraphQL query or mutation; errors carry `extensions.code`",
                     "security": SECURITY, "requestBody": {"required": True, "content": {
                         "application/json": {"schema": obj(
                             query={"type": "string"}, variables={"type": "object"},
                             operationName={"type": "string"})}}},
                     "responses": {"200": json_response(ref("GraphQLResponse")),
                                   **problems("400", "401", "413", "503")}}},
        "/healthz": {"get": {"summary": "The process is alive",
                             "responses": {"200": json_response({"type": "object"})}}},
        "/readyz": {"get": {"summary": "PostgreSQL, Redis, the backend answer; lag is low",
                            "responses": {
                                "200": json_response({"type": "object"}),
                                "503": json_response({"type": "object"}, "not ready")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {
            "description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/openapi.json": {"get": {"summary": "This document",
                                  "responses": {"200": json_response({"type": "object"})}}},
    }


@cache
def build_document() -> dict[str, Any]:
    from core_write.import_lines import NodeLine, ProductLine
    from core_write.services.tenants import TenantCreate
    from indexer.model.relevance import Synonyms
    from search_api.accounts import KeyCreate, KeyInfo, TenantInfo
    from search_api.routes_accounts import KeyRotate
    from search_api.routes_admin import ReindexRequest, ReplayRequest
    from search_api.routes_relevance import SettingsBody
    from search_api.rules import RuleSpec

    _, defs = models_json_schema(
        [(m, "validation") for m in (SearchQuery, ReindexRequest, ReplayRequest, TenantCreate,
                                     KeyCreate, KeyRotate, ProductLine, NodeLine,
                                     SettingsBody, Synonyms, RuleSpec)]
        + [(m, "serialization") for m in (SearchResult, Suggestion, KeyInfo, TenantInfo)],
        ref_template=REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    for doc_type in ("product", "content"):
        schemas[f"{doc_type.title()}SearchQuery"] = search_body(schemas["SearchQuery"],
                                                                doc_type)
    schemas["SearchSettingsPatch"] = {**deepcopy(schemas["SettingsBody"]),
                                      "title": "SearchSettingsPatch"}
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["GraphQLResponse"] = obj(data={"type": ["object", "null"]}, errors={
        "type": "array", "items": obj(message={"type": "string"}, path={"type": "array"},
                                      extensions=obj(code={"type": "string", "enum": [
                                          "VALIDATION", "NOT_FOUND", "CONFLICT", "FORBIDDEN",
                                          "MODULE_DISABLED", "UNAVAILABLE",
                                          "GRAPHQL_VALIDATION", "INTERNAL"]},
                                                     field={"type": "string"}))})
    schemas["Job"] = job_schema()
    schemas["ImportProductLine"] = schemas.pop("ProductLine")
    schemas["ImportNodeLine"] = schemas.pop("NodeLine")
    schemas["ImportJob"] = import_job_schema()
    return {
        "openapi": "3.1.0",
        "info": {"title": "RusToK Search API", "version": "1"},
        "paths": _paths(),
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}},
    }
