"""The response shape every search backend returns: hits, facet values and stats, the search
result and suggestions (pure).
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field, field_validator

from indexer.model import Document, ProductDoc
from search_api.facets import facet_order
from search_api.model import SearchQuery
from search_api.value_types import StrictModel

HIT_DOCUMENT = (
    "the document. Products: id, title, subtitle, handle, description, status, prices "
    "({currency: {min, max}}, minor units), currencies, has_stock, total_stock, category_ids, "
    "tags, created_at, published_at, thumbnail (URL or null), categories ([{id, name, "
    "handle}]), skus (by variant position), options ([{option, values}]: the values some "
    "variant carries), price_min and price_max (in the request's `currency`, else the price "
    "filter's; null without one). Content: id, kind, title, slug, excerpt, body_preview, "
    "status, author_id, author_name, category_id, tags, created_at, published_at")


class Hit(StrictModel):
    id: uuid.UUID
    score: float | None = None
    document: dict[str, Any] = Field(description=HIT_DOCUMENT)
    highlights: dict[str, str] = Field(default_factory=dict)
    """Field -> fragment with matches wrapped in <mark></mark>."""


def hit_document(document: Document, query: SearchQuery) -> dict[str, Any]:
    """The `document` of a hit: the document's fields, and for products `price_min` /
    `price_max` in the request's price currency (`currency`, else the price filter's; null
    without one or when the product has no price in it). Every backend builds hits so."""
    out = document._asdict()
    if isinstance(document, ProductDoc):
        currency = query.price_currency
        price = document.prices.get(currency) if currency is not None else None
        out["price_min"] = price["min"] if price is not None else None
        out["price_max"] = price["max"] if price is not None else None
    return out


class FacetStats(StrictModel):
    min: int
    max: int


class FacetValue(StrictModel):
    """One value of a facet as a facet list renders it."""

    value: str
    """What a filter takes (a category id, a tag name, "Colour:red", a price bucket)."""
    count: int
    """Matching documents (products, for option values: not variants)."""
    label: str
    """What a storefront shows: the category or author name, the option value, else the
    value itself."""
    handle: str | None = None
    """The category's handle (content: its slug)."""
    option: str | None = None
    """The option's name, for `options` values."""


class SearchResult(StrictModel):
    hits: list[Hit]
    total: int
    page: int
    per_page: int
    facets: dict[str, dict[str, int]] = Field(default_factory=dict)
    """facet → value → count, each facet's values in `facet_order`."""
    facet_stats: dict[str, FacetStats] = Field(default_factory=dict)
    facet_labels: dict[str, dict[str, str]] = Field(default_factory=dict)
    """facet → value → the name a storefront shows, for the facets whose values are ids
    (`categories`, `author`)."""
    facet_values: dict[str, list[FacetValue]] = Field(default_factory=dict)
    """facet → its values as a list a facet list renders (value, count, label, category
    handle, option name), in the order of `facets` (the API fills it in)."""
    took_ms: float = 0.0
    backend: str
    stale: bool = False
    applied_rules: list[uuid.UUID] = Field(default_factory=list)
    """The merchandising rules that shaped this answer, in evaluation order."""
    redirect: str | None = None
    """A rule's redirect: the client should send the shopper to this URL."""
    banners: list[dict[str, Any]] = Field(default_factory=list)
    """The payloads of the applied rules' banners, in rule order."""

    @field_validator("facets")
    @classmethod
    def _in_facet_order(cls, value: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        return {name: facet_order(name, counts) for name, counts in value.items()}


class Suggestion(StrictModel):
    id: uuid.UUID
    title: str
    highlighted: str
