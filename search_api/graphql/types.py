"""GraphQL output types: search results mapped from the REST `SearchResult`, and the
federated `Product` and `Node` entities built from index rows or written rows (pure, except
the federation reference resolvers, which read the index tables)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from search_api import results

if TYPE_CHECKING:
    Json = Any  # strawberry's JSON scalar is any JSON value
else:
    Json = JSON


@strawberry.type
class Hit:
    id: strawberry.ID
    score: float | None
    document: Json
    highlights: Json


@strawberry.type
class FacetValue:
    value: str
    count: int
    label: str = strawberry.field(description="what a storefront shows: the category or "
                                              "author name for ids, the option value, else "
                                              "the value")
    handle: str | None = strawberry.field(default=None, description="the category's handle "
                                                                   "(content: its slug)")
    option: str | None = strawberry.field(default=None, description="the option's name "
                                                                   "(`options` facet)")


@strawberry.type
class Facet:
    name: str
    values: list[FacetValue]


@strawberry.type
class PriceStats:
    name: str
    min: int
    max: int


@strawberry.type
class SearchResult:
    total: int
    page: int
    per_page: int
    hits: list[Hit]
    facets: list[Facet]
    facet_stats: list[PriceStats]
    took_ms: float
    backend: str
    stale: bool = strawberry.field(description="true when `minToken` was not indexed in time")

    @classmethod
    def of(cls, result: results.SearchResult) -> SearchResult:
        return cls(
            total=result.total, page=result.page, per_page=result.per_page,
            hits=[Hit(id=strawberry.ID(str(h.id)), score=h.score, document=h.document,
                      highlights=h.highlights) for h in result.hits],
            facets=[Facet(name=name, values=[
                FacetValue(value=v.value, count=v.count, label=v.label, handle=v.handle,
                           option=v.option) for v in values])
                    for name, values in result.facet_values.items()],
            facet_stats=[PriceStats(name=name, min=s.min, max=s.max)
                         for name, s in result.facet_stats.items()],
            took_ms=result.took_ms, backend=result.backend, stale=result.stale)


@strawberry.type
class Suggestion:
    id: strawberry.ID
    title: str
    highlighted: str


def _context_lookup(info: Info) -> Any:
    return info.context.lookup


@strawberry.federation.type(keys=["id"])
class Product:
    """A product: from the index (lookups, federation) with prices and stock, or as written
    (mutations) with its own columns only."""

    id: strawberry.ID
    title: str
    handle: str
    status: str
    subtitle: str | None = None
    description: str | None = None
    prices: Json | None = None
    currencies: list[str] | None = None
    total_stock: int | None = None
    has_stock: bool | None = None
    categories: Json | None = None
    tags: list[str] | None = None
    created_at: datetime | None = None
    published_at: datetime | None = None
    thumbnail: str | None = None
    skus: list[str] | None = None
    options: Json | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> Product:
        return cls(id=strawberry.ID(str(row.get("product_id") or row["id"])),
                   title=row["title"], handle=row["handle"], status=row["status"],
                   subtitle=row.get("subtitle"), description=row.get("description"),
                   prices=row.get("prices"), currencies=row.get("currencies"),
                   total_stock=row.get("total_stock"), has_stock=row.get("has_stock"),
                   categories=row.get("categories"), tags=row.get("tags"),
                   created_at=row.get("created_at"), published_at=row.get("published_at"),
                   thumbnail=row.get("thumbnail"), skus=row.get("skus"),
                   options=row.get("options"))

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Product | None:
        row = await _context_lookup(info).product(_uuid(id), None)
        return cls.of(row) if row else None


@strawberry.federation.type(keys=["id"])
class Node:
    """A content node (page, post, comment)."""

    id: strawberry.ID
    kind: str
    status: str
    title: str | None = None
    slug: str | None = None
    excerpt: str | None = None
    body_preview: str | None = None
    author_name: str | None = None
    category_name: str | None = None
    tags: list[str] | None = None
    parent_id: strawberry.ID | None = None
    published_at: datetime | None = None
    created_at: datetime | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> Node:
        parent = row.get("parent_id")
        return cls(id=strawberry.ID(str(row.get("node_id") or row["id"])), kind=row["kind"],
                   status=row["status"], title=row.get("title"), slug=row.get("slug"),
                   excerpt=row.get("excerpt"), body_preview=row.get("body_preview"),
                   author_name=row.get("author_name"), category_name=row.get("category_name"),
                   tags=row.get("tags"), parent_id=strawberry.ID(str(parent)) if parent else None,
                   published_at=row.get("published_at"), created_at=row.get("created_at"))

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Node | None:
        row = await _context_lookup(info).node(_uuid(id), None)
        return cls.of(row) if row else None


@strawberry.type
class Category:
    id: strawberry.ID
    name: str
    handle: str | None
    products: int


@strawberry.type
class Tag:
    name: str
    products: int
    nodes: int


@strawberry.type
class ProductPayload:
    product: Product
    consistency_token: int | None


@strawberry.type
class NodePayload:
    node: Node
    consistency_token: int | None


@strawberry.type
class WritePayload:
    """Any other written object: its id and columns as written, and the token."""

    id: strawberry.ID | None
    record: Json
    consistency_token: int | None


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
