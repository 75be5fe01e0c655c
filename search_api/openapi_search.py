"""The search routes of the OpenAPI document: their query-string parameters, their JSON
bodies narrowed per document type, and title suggestions (pure).
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from indexer.model import DocType
from indexer.model.relevance import LOCALE
from search_api.facets import ContentFacet, ProductFacet
from search_api.filters import ContentStatus, ProductStatus
from search_api.model import CONTENT_SORTS, PRODUCT_SORTS, PUBLIC_DOC_TYPES
from search_api.openapi_blocks import (
    BODY_PROBLEMS,
    GET_PROBLEMS,
    SECURITY,
    int_param,
    integer,
    json_response,
    list_param,
    param,
    problems,
    ref,
)
from search_api.params import BOOLEAN as FLAG
from search_api.value_types import (
    CURRENCY_SCHEMA,
    DATE_TIME,
    MIN_TOKEN_DESCRIPTION,
    NO_NUL,
    TOKEN_MAX,
    TOKEN_MIN,
)

BOOLEAN = {"type": "string", "pattern": FLAG}
UUID = {"type": "string", "format": "uuid"}
TAG = {"type": "string", "minLength": 1, "maxLength": 100,
       "pattern": r"^[^\x00,]*[^\x00,\s][^\x00,]*$"}
"""A tag name in a query string: no comma (the separator), not blank."""
OPTION = {"type": "string", "minLength": 3, "maxLength": 511,
          "pattern": r"^[^\x00,:]*[^\x00,:\s][^\x00,:]*:[^\x00,]*[^\x00,\s][^\x00,]*$"}
"""An option value in a query string (`Colour:red`): no comma (the separator), the option
and the value each with more than blanks (list items are trimmed)."""


def search_params(doc_type: DocType) -> list[dict[str, Any]]:
    """The query-string parameters of one search route, as `params` parses them. Filters
    are written `filter[field]` here; `filter.field` is the same parameter."""
    product = doc_type == "product"
    facets = ProductFacet.__args__ if product else ContentFacet.__args__  # type: ignore[attr-defined]
    common = [
        param("q", "full-text query (at most 256 characters, no NUL)",
              {"type": "string", "maxLength": 256, "pattern": NO_NUL}),
        list_param("facets", "facet names", {"enum": list(facets)}, 10, unique=True),
        param("sort", "`relevance` (default) or a field and direction",
              {"enum": sorted(PRODUCT_SORTS if product else CONTENT_SORTS)}),
        int_param("page", "page number", 1, 500),
        int_param("per_page", "hits per page", 1, 100),
        param("highlight", "wrap matches in <mark> (true/false, yes/no, on/off, 1/0)",
              BOOLEAN),
        int_param("min_token", MIN_TOKEN_DESCRIPTION, TOKEN_MIN, TOKEN_MAX),
        param("locale", "the shopper's language or locale (`de`, `en-GB`): the tenant's "
                        "synonyms and stop words scoped to it apply besides the others",
              {"type": "string", "pattern": LOCALE, "maxLength": 12}),
        list_param("filter[categories]", "any of these category ids", UUID, 50),
        list_param("filter[tags]", "any of these tag names", TAG, 50),
        param("currency", "ISO 4217 currency of price sort, facet and stats, and the "
                          "default of `filter[price][currency]`",
              CURRENCY_SCHEMA),
        list_param("price_buckets", "strictly increasing bucket bounds (minor units)",
                   integer(1), 20),
    ]
    if product:
        return common + [
            param("filter[price][currency]", "currency of the price range (default: "
                                             "`currency`)",
                  CURRENCY_SCHEMA),
            int_param("filter[price][min]", "lowest price, minor units", 0),
            int_param("filter[price][max]", "highest price, minor units", 0),
            param("filter[has_stock]", "in stock or not", BOOLEAN),
            list_param("filter[options]", "option values as the `options` facet names "
                                          "them (`Colour:red`): any value of an option, "
                                          "every option named", OPTION, 50),
            list_param("filter[status]", "statuses (admin keys; search keys: published)",
                       {"enum": list(ProductStatus.__args__)}, 4),  # type: ignore[attr-defined]
        ]
    return common + [
        list_param("filter[kind]", "node kinds", {"enum": ["page", "post", "comment"]}, 3),
        list_param("filter[author]", "any of these author ids", UUID, 50),
        param("filter[published][gte]", "published at or after (RFC 3339 with offset, "
                                         "years 1700-2199)",
              {"type": "string", "pattern": DATE_TIME}),
        param("filter[published][lte]", "published at or before (RFC 3339 with offset, "
                                         "years 1700-2199)",
              {"type": "string", "pattern": DATE_TIME}),
        list_param("filter[status]", "statuses (admin keys; search keys: published)",
                   {"enum": list(ContentStatus.__args__)}, 3),  # type: ignore[attr-defined]
    ]


SEARCH_RULES = ("Rules between fields (422 when broken): a price range needs its currency "
                "(`filter[price][min]`/`[max]` need `filter[price][currency]`); "
                "`filter.price.min must not exceed max`; `price_buckets` are strictly "
                "increasing; price sorting and the price facet need `currency` (or "
                "`filter.price`); an engine refuses a currency it does not index (Tantivy, "
                "Meilisearch: `TANTIVY_CURRENCIES`). Search keys see `published` only (403 for "
                "other statuses).")


def _search_path(kind: str, doc_type: DocType) -> dict[str, Any]:
    return {
        "get": {"summary": f"Search {kind} (query string)", "security": SECURITY,
                "description": SEARCH_RULES,
                "parameters": search_params(doc_type), "responses": {
                    "200": json_response(ref("SearchResult")), **problems(*BODY_PROBLEMS)}},
        "post": {"summary": f"Search {kind} (JSON body)",
                 "security": SECURITY, "description": SEARCH_RULES,
                 "requestBody": {"required": True, "content": {
                     "application/json": {"schema": ref(f"{doc_type.title()}SearchQuery")}}},
                 "responses": {"200": json_response(ref("SearchResult")),
                               **problems(*BODY_PROBLEMS)}},
    }


def search_paths() -> dict[str, Any]:
    from search_api.routes_search import MAX_SUGGESTIONS, SUGGEST_PREFIX

    return {
        "/v1/search/products": _search_path("products", "product"),
        "/v1/search/content": _search_path("content", "content"),
        "/v1/suggest": {"get": {
            "summary": "Title suggestions for a prefix", "security": SECURITY,
            "parameters": [
                param("q", "prefix: 1-100 characters, not all blank, no NUL",
                      {"type": "string", "pattern": SUGGEST_PREFIX}, required=True),
                param("type", "document type", {"enum": ["products", "content"]}),
                int_param("limit", "suggestions", 1, MAX_SUGGESTIONS)],
            "responses": {"200": json_response({"type": "object", "properties": {
                "suggestions": {"type": "array", "items": ref("Suggestion")},
                "backend": {"type": "string"}}}), **problems(*GET_PROBLEMS)}}},
    }


def search_body(generic: dict[str, Any], doc_type: DocType) -> dict[str, Any]:
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
    props["filter"]["anyOf"] = [ref("ProductFilter" if product else "ContentFilter"),
                                {"type": "null"}]
    facets = ProductFacet.__args__ if product else ContentFacet.__args__  # type: ignore[attr-defined]
    props["facets"]["items"] = {"enum": list(facets)}
    props["facets"]["uniqueItems"] = True
    props["sort"]["enum"] = sorted(PRODUCT_SORTS if product else CONTENT_SORTS)
    return body
