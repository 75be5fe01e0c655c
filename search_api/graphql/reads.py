"""The GraphQL queries: product and content search through the REST search path, suggest, and
entity lookups read from the index tables, always within the key's tenant (I/O: the backend,
PostgreSQL)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import strawberry
from aiohttp import web
from strawberry.types import Info

from indexer.model import DocType
from search_api.auth import ApiKey
from search_api.errors import Problem, field_error
from search_api.filters import ContentFilter, ProductFilter
from search_api.graphql.inputs import given, input_type
from search_api.graphql.types import Category, Node, Product, SearchResult, Suggestion, Tag
from search_api.queries import QUERIES
from search_api.routes_search import search
from search_api.scope import SearchScope
from search_api.value_types import TOKEN_MIN
from search_api.wiring import BACKEND, RESOURCES

ProductFilterInput = input_type(ProductFilter)
ContentFilterInput = input_type(ContentFilter)
MAX_LIST = 500


@dataclass
class Lookup:
    """Index-table reads within one key's scope (published documents only for search keys)."""

    pool: asyncpg.Pool
    key: ApiKey

    def scope(self) -> SearchScope:
        if self.key.role not in ("search", "admin"):
            raise Problem(403, "operator keys do not search; use a search or admin key")
        return self.key.scope()

    async def _row(self, query: str, *args: Any) -> dict[str, Any] | None:
        scope = self.scope()
        row = await self.pool.fetchrow(QUERIES[query], scope.tenant_id, *args,
                                       scope.include_drafts)
        return dict(row) if row else None

    async def product(self, id: uuid.UUID | None, handle: str | None) -> dict[str, Any] | None:
        return await self._row("gql_product", id, handle)

    async def node(self, id: uuid.UUID | None, slug: str | None) -> dict[str, Any] | None:
        return await self._row("gql_node", id, slug)

    async def rows(self, query: str, limit: int) -> list[dict[str, Any]]:
        scope = self.scope()
        return [dict(r) for r in await self.pool.fetch(QUERIES[query], scope.tenant_id,
                                                       scope.include_drafts, limit)]


@dataclass
class Context:
    """What every resolver gets: the request, its app and the authenticated key."""

    request: web.Request
    key: ApiKey

    @property
    def app(self) -> web.Application:
        return self.request.app

    @property
    def lookup(self) -> Lookup:
        return Lookup(self.app[RESOURCES].pool, self.key)


def _one_of(id: strawberry.ID | None, other: str | None, name: str) -> uuid.UUID | None:
    if (id is None) == (other is None):
        raise field_error("id", f"give exactly one of id and {name}")
    if id is None:
        return None
    try:
        return uuid.UUID(str(id))
    except ValueError:
        raise field_error("id", "not a UUID") from None


def _search_data(q: str | None, filter: Any, facets: list[str] | None, sort: str | None,
                 currency: str | None, page: int | None, per_page: int | None,
                 highlight: bool | None, price_buckets: list[int] | None) -> dict[str, Any]:
    """GraphQL arguments as the REST query model's fields (unset ones left out)."""
    data = {"q": q, "filter": given(filter) if filter is not None else None, "facets": facets,
            "sort": sort, "currency": currency, "page": page, "per_page": per_page,
            "highlight": highlight, "price_buckets": price_buckets}
    return {name: value for name, value in data.items() if value is not None}


async def _search(info: Info[Context, None], doc_type: DocType, data: dict[str, Any],
                  min_token: int | None) -> SearchResult:
    key = info.context.key
    if key.role not in ("search", "admin"):
        raise Problem(403, "operator keys do not search; use a search or admin key")
    if min_token is not None and min_token < TOKEN_MIN:
        raise field_error("minToken", "must be a positive consistency token")
    result = await search(info.context.app, key, doc_type, data, min_token)
    return SearchResult.of(result)


@strawberry.type
class Query:
    @strawberry.field
    async def search_products(
            self, info: Info[Context, None], q: str | None = None,
            filter: ProductFilterInput | None = None,  # type: ignore[valid-type]
            facets: list[str] | None = None, sort: str | None = None,
            currency: str | None = None, page: int | None = None,
            per_page: int | None = None, highlight: bool | None = None,
            price_buckets: list[int] | None = None,
            min_token: int | None = None) -> SearchResult:
        data = _search_data(q, filter, facets, sort, currency, page, per_page, highlight,
                            price_buckets)
        return await _search(info, "product", data, min_token)

    @strawberry.field
    async def search_content(
            self, info: Info[Context, None], q: str | None = None,
            filter: ContentFilterInput | None = None,  # type: ignore[valid-type]
            facets: list[str] | None = None, sort: str | None = None,
            page: int | None = None, per_page: int | None = None,
            highlight: bool | None = None, min_token: int | None = None) -> SearchResult:
        data = _search_data(q, filter, facets, sort, None, page, per_page, highlight, None)
        return await _search(info, "content", data, min_token)

    @strawberry.field
    async def suggest(self, info: Info[Context, None], q: str, type: str = "products",
                      limit: int = 8) -> list[Suggestion]:
        scope = info.context.lookup.scope()
        prefix = q.strip()
        if not 1 <= len(prefix) <= 100:
            raise field_error("q", "a prefix of 1 to 100 characters is required")
        if type not in ("products", "content"):
            raise field_error("type", "must be 'products' or 'content'")
        if not 1 <= limit <= 20:
            raise field_error("limit", "must be between 1 and 20")
        doc_type: DocType = "product" if type == "products" else "content"
        found = await info.context.app[BACKEND].suggest(doc_type, prefix, scope, limit)
        return [Suggestion(id=strawberry.ID(str(s.id)), title=s.title,
                           highlighted=s.highlighted) for s in found]

    @strawberry.field
    async def product(self, info: Info[Context, None], id: strawberry.ID | None = None,
                      handle: str | None = None) -> Product | None:
        row = await info.context.lookup.product(_one_of(id, handle, "handle"), handle)
        return Product.of(row) if row else None

    @strawberry.field
    async def node(self, info: Info[Context, None], id: strawberry.ID | None = None,
                   slug: str | None = None) -> Node | None:
        row = await info.context.lookup.node(_one_of(id, slug, "slug"), slug)
        return Node.of(row) if row else None

    @strawberry.field
    async def categories(self, info: Info[Context, None], limit: int = 100) -> list[Category]:
        rows = await info.context.lookup.rows("gql_categories", min(max(limit, 1), MAX_LIST))
        return [Category(id=strawberry.ID(r["id"]), name=r["name"], handle=r["handle"],
                         products=r["products"]) for r in rows]

    @strawberry.field
    async def tags(self, info: Info[Context, None], limit: int = 100) -> list[Tag]:
        rows = await info.context.lookup.rows("gql_tags", min(max(limit, 1), MAX_LIST))
        return [Tag(name=r["name"], products=r["products"], nodes=r["nodes"]) for r in rows]
