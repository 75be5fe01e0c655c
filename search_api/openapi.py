"""The OpenAPI 3.1 document of the HTTP API, built in code from the pydantic models (pure).

A test compares its paths with the routes the app serves, so the two cannot drift apart.
"""

from __future__ import annotations

from copy import deepcopy
from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from core_write.validate import BIGINT_MAX
from indexer.model import DocType
from indexer.model.relevance import LOCALE
from search_api.model import (
    CONTENT_SORTS,
    CURRENCY_SCHEMA,
    DATE_TIME,
    MIN_TOKEN_DESCRIPTION,
    NO_NUL,
    PRODUCT_SORTS,
    PUBLIC_DOC_TYPES,
    TOKEN_MAX,
    TOKEN_MIN,
    ContentFacet,
    ContentStatus,
    ProductFacet,
    ProductStatus,
    SearchQuery,
    SearchResult,
    Suggestion,
)
from search_api.params import BOOLEAN as FLAG

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
    "415": "the body is not of the media type the operation reads",
    "422": "a parameter is invalid (`errors` names it)",
    "503": "a dependency is unavailable or the request timed out"}.items()}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: PROBLEMS[code] for code in codes}


def _param(name: str, description: str, schema: dict[str, Any] | None = None,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


def _list_param(name: str, description: str, items: dict[str, Any], max_items: int,
                unique: bool = False) -> dict[str, Any]:
    """A list given comma-separated (`a,b`) or repeated (`x=a&x=b`), at least one value
    (`x=` is refused: it cannot be told from a list of one empty value)."""
    schema = {"type": "array", "items": items, "minItems": 1, "maxItems": max_items}
    if unique:
        schema["uniqueItems"] = True
    return _param(name, description, schema) | {"style": "form", "explode": False}


BOOLEAN = {"type": "string", "pattern": FLAG}
UUID = {"type": "string", "format": "uuid"}
TAG = {"type": "string", "minLength": 1, "maxLength": 100,
       "pattern": r"^[^\x00,]*[^\x00,\s][^\x00,]*$"}
"""A tag name in a query string: no comma (the separator), not blank."""
OPTION = {"type": "string", "minLength": 3, "maxLength": 511,
          "pattern": r"^[^\x00,:]*[^\x00,:\s][^\x00,:]*:[^\x00,]*[^\x00,\s][^\x00,]*$"}
"""An option value in a query string (`Colour:red`): no comma (the separator), the option
and the value each with more than blanks (list items are trimmed)."""


def _int(low: int, high: int = BIGINT_MAX) -> dict[str, Any]:
    """An integer in a query string: ASCII digits, no sign, no leading zero."""
    return {"type": "integer", "minimum": low, "maximum": high}


def _int_param(name: str, description: str, low: int, high: int = BIGINT_MAX,
               ) -> dict[str, Any]:
    return _param(name, description, _int(low, high))


def search_params(doc_type: DocType) -> list[dict[str, Any]]:
    """The query-string parameters of one search route, as `params` parses them. Filters
    are written `filter[field]` here; `filter.field` is the same parameter."""
    product = doc_type == "product"
    facets = ProductFacet.__args__ if product else ContentFacet.__args__  # type: ignore[attr-defined]
    common = [
        _param("q", "full-text query (at most 256 characters, no NUL)",
               {"type": "string", "maxLength": 256, "pattern": NO_NUL}),
        _list_param("facets", "facet names", {"enum": list(facets)}, 10, unique=True),
        _param("sort", "`relevance` (default) or a field and direction",
               {"enum": sorted(PRODUCT_SORTS if product else CONTENT_SORTS)}),
        _int_param("page", "page number", 1, 500),
        _int_param("per_page", "hits per page", 1, 100),
        _param("highlight", "wrap matches in <mark> (true/false, yes/no, on/off, 1/0)",
               BOOLEAN),
        _int_param("min_token", MIN_TOKEN_DESCRIPTION, TOKEN_MIN, TOKEN_MAX),
        _param("locale", "the shopper's language or locale (`de`, `en-GB`): the tenant's "
                         "synonyms and stop words scoped to it apply besides the others",
               {"type": "string", "pattern": LOCALE, "maxLength": 12}),
        _list_param("filter[categories]", "any of these category ids", UUID, 50),
        _list_param("filter[tags]", "any of these tag names", TAG, 50),
        _param("currency", "ISO 4217 currency of price sort, facet and stats, and the "
                           "default of `filter[price][currency]`",
               CURRENCY_SCHEMA),
        _list_param("price_buckets", "strictly increasing bucket bounds (minor units)",
                    _int(1), 20),
    ]
    if product:
        return common + [
            _param("filter[price][currency]", "currency of the price range (default: "
                                              "`currency`)",
                   CURRENCY_SCHEMA),
            _int_param("filter[price][min]", "lowest price, minor units", 0),
            _int_param("filter[price][max]", "highest price, minor units", 0),
            _param("filter[has_stock]", "in stock or not", BOOLEAN),
            _list_param("filter[options]", "option values as the `options` facet names "
                                           "them (`Colour:red`): any value of an option, "
                                           "every option named", OPTION, 50),
            _list_param("filter[status]", "statuses (admin keys; search keys: published)",
                        {"enum": list(ProductStatus.__args__)}, 4),  # type: ignore[attr-defined]
        ]
    return common + [
        _list_param("filter[kind]", "node kinds", {"enum": ["page", "post", "comment"]}, 3),
        _list_param("filter[author]", "any of these author ids", UUID, 50),
        _param("filter[published][gte]", "published at or after (RFC 3339 with offset, "
                                          "years 1700-2199)",
               {"type": "string", "pattern": DATE_TIME}),
        _param("filter[published][lte]", "published at or before (RFC 3339 with offset, "
                                          "years 1700-2199)",
               {"type": "string", "pattern": DATE_TIME}),
        _list_param("filter[status]", "statuses (admin keys; search keys: published)",
                    {"enum": list(ContentStatus.__args__)}, 3),  # type: ignore[attr-defined]
    ]


SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]


SEARCH_RULES = ("Rules between fields (422 when broken): a price range needs its currency "
                "(`filter[price][min]`/`[max]` need `filter[price][currency]`); "
                "`filter.price.min must not exceed max`; `price_buckets` are strictly "
                "increasing; price sorting and the price facet need `currency` (or "
                "`filter.price`); an engine refuses a currency it does not index (Tantivy, "
                "Meilisearch: `TANTIVY_CURRENCIES`). Search keys see `published` only (403 for "
                "other statuses).")


def _search_path(kind: str, doc_type: DocType) -> dict[str, Any]:
    codes = ("400", "401", "403", "413", "414", "422", "503")
    return {
        "get": {"summary": f"Search {kind} (query string)", "security": SECURITY,
                "description": SEARCH_RULES,
                "parameters": search_params(doc_type), "responses": {
                    "200": _json(_ref("SearchResult")), **_errors(*codes)}},
        "post": {"summary": f"Search {kind} (JSON body)",
                 "security": SECURITY, "description": SEARCH_RULES,
                 "requestBody": {"required": True, "content": {
                     "application/json": {"schema": _ref(f"{doc_type.title()}SearchQuery")}}},
                 "responses": {"200": _json(_ref("SearchResult")), **_errors(*codes)}},
    }


def _paths() -> dict[str, Any]:
    from core_write.process_settings import INSTANCE_NAME
    from search_api.routes_admin import ENTRY_ID, JOB_STATES, MAX_DLQ_PAGE, MAX_JOBS, TENANT_REF
    from search_api.routes_search import MAX_SUGGESTIONS, SUGGEST_PREFIX

    admin = ("400", "401", "403", "413", "414", "422", "503")
    get = ("400", "401", "403", "414", "422", "503")
    return {
        "/v1/search/products": _search_path("products", "product"),
        "/v1/search/content": _search_path("content", "content"),
        "/v1/suggest": {"get": {
            "summary": "Title suggestions for a prefix", "security": SECURITY,
            "parameters": [
                _param("q", "prefix: 1-100 characters, not all blank, no NUL",
                       {"type": "string", "pattern": SUGGEST_PREFIX}, required=True),
                _param("type", "document type", {"enum": ["products", "content"]}),
                _int_param("limit", "suggestions", 1, MAX_SUGGESTIONS)],
            "responses": {"200": _json({"type": "object", "properties": {
                "suggestions": {"type": "array", "items": _ref("Suggestion")},
                "backend": {"type": "string"}}}), **_errors(*get)}}},
        "/v1/admin/reindex": {"get": {
            "summary": "Reindex jobs with their progress, newest first (admin: own tenant; "
                       "operator: any)", "security": SECURITY,
            "parameters": [
                _list_param("state", "job states", {"enum": list(JOB_STATES)},
                            len(JOB_STATES)),
                _param("tenant", "tenant slug or id (operator keys; admin keys see their own)",
                       {"type": "string", "pattern": TENANT_REF}),
                _int_param("limit", "jobs", 1, MAX_JOBS)],
            "responses": {"200": _json({"type": "object", "properties": {
                "jobs": {"type": "array", "items": _ref("Job")}}}),
                **_errors(*get)}}, "post": {
            "summary": "Queue a reindex (admin: own tenant; operator: any)",
            "description": "Reindexing one document (`id`) needs its `type` (422 without).",
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
                "description": "no such job"}, **_errors(*get)}}},
        "/v1/admin/dlq": {"get": {
            "summary": "Dead-lettered events (operator), oldest first", "security": SECURITY,
            "parameters": [
                _param("after", "entry id to continue after (the previous `next`)",
                       {"type": "string", "pattern": ENTRY_ID}),
                _int_param("limit", "entries", 1, MAX_DLQ_PAGE),
                _param("queue", "`events` (the indexer's) or `engine` (documents an "
                                "external engine refused)",
                       {"type": "string", "enum": ["events", "engine"]})],
            "responses": {"200": _json({"type": "object", "properties": {
                "entries": {"type": "array", "items": {"type": "object"}},
                "next": {"type": ["string", "null"]}, "total": {"type": "integer"}}}),
                **_errors(*get)}}},
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
        "/v1/admin/engines": {"get": {
            "summary": "Meilisearch instances: health, tenants, documents, moves (operator)",
            "security": SECURITY,
            "responses": {"200": _json({"type": "object", "properties": {
                "instances": {"type": "array", "items": {"type": "object"}},
                "moves": {"type": "array", "items": {"type": "object"}}}}),
                "404": PROBLEMS["422"] | {"description": "no Meilisearch configured"},
                **_errors(*get)}}},
        "/v1/admin/engines/move": {"post": {
            "summary": "Move a tenant's Meilisearch indexes to another instance (operator)",
            "description": "Run by the elected indexer without downtime: searches stay on the "
                           "old instance until the switch. 409 when the tenant is already "
                           "there or being moved, 404 when it has no indexes yet.",
            "security": SECURITY,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _obj(
                tenant={"type": "string", "pattern": TENANT_REF},
                to={"type": "string", "pattern": INSTANCE_NAME.pattern})}}},
            "responses": {"202": _json({"type": "object", "properties": {
                "move": {"type": "object"}}}, "filed"),
                "404": PROBLEMS["422"] | {"description": "no such tenant placement"},
                "409": PROBLEMS["422"] | {"description": "already there or moving"},
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
        **_account_paths(admin),
        **_import_paths(get),
        **_relevance_paths(admin),
        "/graphql": {
            "get": {"summary": "GraphQL query (not mutation) as `query`, `variables` (JSON) and "
                               "`operationName` parameters; schema: `{ _service { sdl } }`",
                    "security": SECURITY, "parameters": [
                        _param("query", "the GraphQL document", required=True),
                        _param("variables", "JSON object"), _param("operationName", "")],
                    "responses": {"200": _json(_ref("GraphQLResponse")),
                                  **_errors("400", "401", "503")}},
            "post": {"summary": "GraphQL query or mutation; errors carry `extensions.code`",
                     "security": SECURITY, "requestBody": {"required": True, "content": {
                         "application/json": {"schema": _obj(
                             query={"type": "string"}, variables={"type": "object"},
                             operationName={"type": "string"})}}},
                     "responses": {"200": _json(_ref("GraphQLResponse")),
                                   **_errors("400", "401", "413", "503")}}},
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


def _import_paths(get: tuple[str, ...]) -> dict[str, Any]:
    """Bulk import (admin: own tenant; operator: `?tenant=`)."""
    from core_write.bulk_import import CHUNK_LINES
    from core_write.import_lines import LINE_MAX_BYTES
    from search_api.routes_admin import DOC_ID, TENANT_REF
    from search_api.routes_import import CONTENT_TYPES, IMPORT_PATH, MAX_LIST

    tenant = _param("tenant", "tenant slug or id (operator keys: required to import; admin "
                              "keys: their own only)", {"type": "string", "pattern": TENANT_REF})
    import_id = {"type": "string", "pattern": DOC_ID}
    job = _json(_obj(**{"import": _ref("ImportJob")}))
    # no `type`: every body is text to the import, read line by line (a line that is not a
    # JSON object is reported as a refused line, never the request)
    lines = {"description": (
        "NDJSON: one JSON object per line, `ImportProductLine` (`type` `product` or absent) "
        f"or `ImportNodeLine` (`type` `node`); at most {LINE_MAX_BYTES} bytes a line, "
        "IMPORT_MAX_BYTES (default 1 GiB) in all, read as a stream")}
    return {
        IMPORT_PATH: {"get": {
            "summary": "Import jobs, newest first (admin: own tenant; operator: any)",
            "security": SECURITY,
            "parameters": [tenant, _int_param("limit", "jobs", 1, MAX_LIST)],
            "responses": {"200": _json(_obj(imports={"type": "array",
                                                     "items": _ref("ImportJob")})),
                          **_errors(*get)}}, "post": {
            "summary": "Import products and content nodes from an NDJSON body",
            "description": (
                f"Lines are validated one by one and written {CHUNK_LINES} per transaction; "
                "a refused line is reported (`errors`: line, field, reason) and the others "
                "are written, each line whole or not at all. A product's `handle` (a node's "
                "`kind` and `slug`) is its idempotency key: an existing product is replaced "
                "with the line's fields and parts, never duplicated. Answers when the body is "
                "imported; `GET /v1/admin/import/{id}` shows the progress meanwhile. `id` "
                "names the job: an existing id of this tenant resumes it (the same body "
                "again: its committed part is skipped after a hash check, 409 if it "
                "differs); a new one starts it."),
            "security": SECURITY,
            "parameters": [tenant, _param("id", "the import's id (new: start; existing: "
                                                "resume)", import_id)],
            "requestBody": {"required": True, "content": {
                kind: {"schema": lines} for kind in CONTENT_TYPES}},
            "responses": {"200": job | {"headers": {"Location": {
                "description": "the job's URL", "schema": {"type": "string"}}}},
                "404": PROBLEMS["422"] | {"description": "no such import (of this tenant)"},
                "409": PROBLEMS["422"] | {"description": "the import runs elsewhere, or the "
                                                         "body differs from its committed "
                                                         "part"},
                **_errors("400", "401", "403", "413", "414", "415", "422", "503")}}},
        IMPORT_PATH + "/{id}": {"get": {
            "summary": "An import's progress and its first refused lines",
            "description": "`state`: running, interrupted (its runner died: post the same "
                           "body with this `id` to resume), succeeded or failed.",
            "security": SECURITY,
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": import_id},
                           _int_param("errors", "refused lines listed", 0, 1000)],
            "responses": {"200": job, "404": PROBLEMS["422"] | {
                "description": "no such import (of this tenant)"}, **_errors(*get)}}},
    }


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


def _account_paths(admin: tuple[str, ...]) -> dict[str, Any]:
    """Tenants and keys (operator keys only)."""
    key_path = [{"name": "key", "in": "path", "required": True,
                 "schema": {"type": "string", "format": "uuid"}}]
    new_key = _json(_obj(key={"type": "string", "description": "shown this once"},
                         info=_ref("KeyInfo")), "created")
    not_found = {"404": PROBLEMS["422"] | {"description": "no such tenant or key"}}
    return {
        "/v1/admin/tenants": {
            "get": {"summary": "Every tenant (operator)", "security": SECURITY,
                    "responses": {"200": _json(_obj(tenants={
                        "type": "array", "items": _ref("TenantInfo")})),
                        **_errors("401", "403", "503")}},
            "post": {"summary": "Create a tenant (operator)", "security": SECURITY,
                     "requestBody": {"required": True, "content": {
                         "application/json": {"schema": _ref("TenantCreate")}}},
                     "responses": {"201": _json(_obj(tenant=_ref("TenantInfo"),
                                                     consistency_token={"type": "integer"}),
                                                "created"), **_errors(*admin)}}},
        "/v1/admin/tenants/{tenant}": {"get": {
            "summary": "One tenant by slug or id (operator)", "security": SECURITY,
            "parameters": [{"name": "tenant", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": _json(_obj(tenant=_ref("TenantInfo"))), **not_found,
                          **_errors("401", "403", "503")}}},
        "/v1/admin/keys": {
            "get": {"summary": "API keys without their secrets, newest first (operator)",
                    "security": SECURITY, "parameters": [
                        _param("tenant", "only this tenant's keys (slug or id)"),
                        _param("all", "include revoked and expired keys",
                               {"type": "boolean"})],
                    "responses": {"200": _json(_obj(keys={
                        "type": "array", "items": _ref("KeyInfo")})),
                        **not_found, **_errors("401", "403", "422", "503")}},
            "post": {"summary": "Create a key, optionally expiring (operator)",
                     "security": SECURITY, "requestBody": {"required": True, "content": {
                         "application/json": {"schema": _ref("KeyCreate")}}},
                     "responses": {"201": new_key, **not_found, **_errors(*admin)}}},
        "/v1/admin/keys/{key}/revoke": {"post": {
            "summary": "Revoke a key: refused within API_KEY_CACHE_SECONDS (operator)",
            "security": SECURITY, "parameters": key_path,
            "responses": {"200": _json(_obj(info=_ref("KeyInfo"))), **not_found,
                          **_errors("401", "403", "422", "503")}}},
        "/v1/admin/keys/{key}/rotate": {"post": {
            "summary": "Replace an active key by a new one, revoking it (operator)",
            "security": SECURITY, "parameters": key_path,
            "requestBody": {"required": False, "content": {
                "application/json": {"schema": _ref("KeyRotate")}}},
            "responses": {"201": new_key, "409": PROBLEMS["422"] | {
                "description": "the key is revoked or expired"}, **not_found,
                **_errors(*admin)}}},
    }
def _relevance_paths(admin: tuple[str, ...]) -> dict[str, Any]:
    """Relevance settings, synonyms and merchandising rules (admin keys: their own tenant;
    operator keys: `?tenant=`)."""
    from search_api.routes_admin import TENANT_REF

    tenant = [_param("tenant", "the tenant (slug or id): required for operator keys, "
                               "an admin key's own tenant otherwise",
                     {"type": "string", "pattern": TENANT_REF})]
    rule_path = [*tenant, {"name": "rule", "in": "path", "required": True,
                           "schema": {"type": "string", "format": "uuid"}}]
    settings = _json(_obj(
        version={"type": "integer"}, settings=_ref("SettingsBody"),
        live_within_seconds={"type": "number"},
        meilisearch_version={"type": ["integer", "null"], "description":
                             "the version Meilisearch's indexes serve (live when equal to "
                             "`version`); null: none written there yet"},
        field_weights_live={"type": "boolean", "description":
                            "false while the reindex a change of `field_weights` queued has "
                            "not succeeded (the one setting not live at once)"},
        field_weights_job={"type": ["object", "null"], "description":
                           "that reindex job (id, state, done, total, error); null: none"}))
    synonyms = _json(_obj(version={"type": "integer"}, groups={"type": "array"},
                          one_way={"type": "array"}))
    rule = _obj(version={"type": "integer"}, rule={"type": "object"})
    not_found = {"404": PROBLEMS["422"] | {"description": "no such tenant or rule"}}
    get = ("400", "401", "403", "414", "422", "503")

    def body(model: str) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": _ref(model)}}}

    def write(summary: str, model: str, answer: dict[str, Any],
              created: bool = False) -> dict[str, Any]:
        extra = {"409": PROBLEMS["422"] | {"description": "the tenant has MAX_RULES rules"}} \
            if created else {}
        return {"summary": summary, "security": SECURITY, "parameters": tenant,
                "requestBody": body(model), "responses": {
                    "201" if created else "200": answer, **not_found, **extra,
                    **_errors(*admin)}}

    return {
        "/v1/admin/settings": {
            "get": {"summary": "The tenant's relevance settings and version",
                    "security": SECURITY, "parameters": tenant,
                    "responses": {"200": settings, **not_found, **_errors(*get)}},
            "put": write("Replace the relevance settings", "SettingsBody", settings),
            "patch": write("Change some relevance settings (objects merge one level deep)",
                           "SearchSettingsPatch", settings)},
        "/v1/admin/settings/audit": {"get": {
            "summary": "Who changed the settings and rules, when, before and after",
            "security": SECURITY, "parameters": [*tenant, _int_param(
                "limit", "how many changes, newest first", 1, 200)],
            "responses": {"200": _json(_obj(changes={"type": "array"})), **not_found,
                          **_errors(*get)}}},
        "/v1/admin/synonyms": {
            "get": {"summary": "The tenant's synonyms", "security": SECURITY,
                    "parameters": tenant,
                    "responses": {"200": synonyms, **not_found, **_errors(*get)}},
            "put": write("Replace every synonym", "Synonyms", synonyms),
            "post": write("Add synonym groups and one-way rules", "Synonyms", synonyms),
            "delete": {"summary": "Remove every synonym", "security": SECURITY,
                       "parameters": tenant,
                       "responses": {"200": synonyms, **not_found, **_errors(*get)}}},
        "/v1/admin/rules": {
            "get": {"summary": "The tenant's merchandising rules in evaluation order",
                    "security": SECURITY, "parameters": tenant, "responses": {
                        "200": _json(_obj(version={"type": "integer"},
                                          rules={"type": "array"})),
                        **not_found, **_errors(*get)}},
            "post": write("Create a rule", "RuleSpec", _json(rule, "created"), created=True)},
        "/v1/admin/rules/{rule}": {
            "get": {"summary": "One rule", "security": SECURITY, "parameters": rule_path,
                    "responses": {"200": _json(rule), **not_found, **_errors(*get)}},
            "put": {**write("Replace a rule", "RuleSpec", _json(rule)),
                    "parameters": rule_path},
            "delete": {"summary": "Delete a rule", "security": SECURITY,
                       "parameters": rule_path, "responses": {
                           "200": _json(_obj(version={"type": "integer"},
                                             deleted={"type": "boolean"})),
                           **not_found, **_errors(*get)}}},
    }


def _search_body(generic: dict[str, Any], doc_type: DocType) -> dict[str, Any]:
    """The body one search route accepts: `SearchQuery` narrowed to its document type's
    filter, facet and sort names."""
    product = doc_type == "product"
    body = deepcopy(generic)
    body["title"] = f"{doc_type.title()}SearchQuery"
    props = body["properties"]
    public = PUBLIC_DOC_TYPES[doc_type]
    props["doc_type"] = {"enum": [public, doc_type] if public != doc_type else [public],
                         "default": public, "description": "optional: the endpoint decides "
                         f"it{'' if public == doc_type else f' (`{doc_type}` is deprecated)'}"}
    props["filter"]["anyOf"] = [_ref("ProductFilter" if product else "ContentFilter"),
                                {"type": "null"}]
    facets = ProductFacet.__args__ if product else ContentFacet.__args__  # type: ignore[attr-defined]
    props["facets"]["items"] = {"enum": list(facets)}
    props["facets"]["uniqueItems"] = True
    props["sort"]["enum"] = sorted(PRODUCT_SORTS if product else CONTENT_SORTS)
    return body


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
        schemas[f"{doc_type.title()}SearchQuery"] = _search_body(schemas["SearchQuery"],
                                                                 doc_type)
    schemas["SearchSettingsPatch"] = {**deepcopy(schemas["SettingsBody"]),
                                      "title": "SearchSettingsPatch"}
    schemas["Problem"] = {"type": "object", "required": ["type", "title", "status"],
                          "properties": {
                              "type": {"type": "string"}, "title": {"type": "string"},
                              "status": {"type": "integer"}, "detail": {"type": "string"},
                              "instance": {"type": "string"},
                              "errors": {"type": "array", "items": {
                                  "type": "object", "properties": {
                                      "field": {"type": "string"},
                                      "message": {"type": "string"}}}}}}
    schemas["GraphQLResponse"] = _obj(data={"type": ["object", "null"]}, errors={
        "type": "array", "items": _obj(message={"type": "string"}, path={"type": "array"},
                                       extensions=_obj(code={"type": "string", "enum": [
                                           "VALIDATION", "NOT_FOUND", "CONFLICT", "FORBIDDEN",
                                           "MODULE_DISABLED", "UNAVAILABLE",
                                           "GRAPHQL_VALIDATION", "INTERNAL"]},
                                                       field={"type": "string"}))})
    schemas["Job"] = {"type": "object", "properties": {
        name: {"type": kind} for name, kind in {
            "id": "string", "tenant_id": ["string", "null"], "type": ["string", "null"],
            "doc_type": ["string", "null"], "doc_id": ["string", "null"], "state": "string",
            "total": "integer", "done": "integer", "progress": "number", "errors": "integer",
            "rate": "number", "error": ["string", "null"], "attempts": "integer"}.items()}}
    schemas["Job"]["properties"]["type"]["enum"] = ["products", "content", None]
    schemas["Job"]["properties"]["doc_type"].update(
        deprecated=True, description="the internal name (`product`); use `type`")
    schemas["ImportProductLine"] = schemas.pop("ProductLine")
    schemas["ImportNodeLine"] = schemas.pop("NodeLine")
    schemas["ImportJob"] = _obj(**{name: {"type": kind} for name, kind in {
        "id": "string", "tenant_id": "string", "requested_by": "string", "source": "string",
        "source_sha256": ["string", "null"], "total_bytes": ["integer", "null"],
        "lines_done": "integer", "bytes_done": "integer", "written": "integer",
        "failed": "integer", "rate": "number", "error": ["string", "null"],
        "consistency_token": ["integer", "null"],
        "started_at": "string", "updated_at": "string", "finished_at": ["string", "null"],
        "progress": ["number", "null"]}.items()}, state={"enum": [
            "running", "interrupted", "succeeded", "failed"]}, errors={
        "type": "array", "items": _obj(line={"type": "integer"}, field={"type": "string"},
                                       reason={"type": "string"})})
    return {
        "openapi": "3.1.0",
        "info": {"title": "RusToK Search API", "version": "1"},
        "paths": _paths(),
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}},
    }
