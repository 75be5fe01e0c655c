"""The typed documents a search hit carries, `ProductDoc` and `ContentDoc`, each read once
from what a backend returns: an index-table row (PostgreSQL), a stored Tantivy document, a
Meilisearch hit (pure).

Every backend returns the same document for the same index row: ids are strings, timestamps
ISO 8601 strings in UTC (or None), prices `{"EUR": {"min": 100, "max": 250}}` in minor units
(sorted by currency; an engine returns only its configured currencies).

A document's `_asdict()` is the `document` of an API hit (keys in field order). They are
`NamedTuple`s rather than frozen dataclasses because every hit of every search makes one: a
frozen dataclass sets each field through `object.__setattr__`, and costs twice as much to
build and turn into the hit dict (2.3 against 1.0 µs for 14 fields).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from indexer.model.text import price_fields

Prices = dict[str, dict[str, int]]


def _iso(value: Any) -> str | None:
    if not isinstance(value, datetime):
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return str(value.isoformat())


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _first(stored: Mapping[str, list[Any]], name: str) -> Any:
    """A single-valued field of a stored Tantivy document (every value there is a list)."""
    values = stored.get(name)
    return values[0] if values else None


@functools.lru_cache(maxsize=16)
def _price_columns(currencies: tuple[str, ...]) -> tuple[tuple[str, str, str], ...]:
    """(currency, low field, high field), currencies sorted: computed once per engine."""
    return tuple((cur, *price_fields(cur)) for cur in sorted(currencies))


def _loaded(value: Any) -> Any:
    """A JSON column as asyncpg returns it (text) or as a test row gives it (a value)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def card_categories(value: Any) -> list[dict[str, str]]:
    """The `categories` of an index row (`[{id, name, handle}]`, JSON text or a list) as a
    hit carries them: ids as strings, in the row's order (by name)."""
    return [{"id": str(c.get("id")), "name": c.get("name"), "handle": c.get("handle")}
            for c in _loaded(value) or []]


def card_options(value: Any) -> list[dict[str, Any]]:
    """The `options` of an index row (`[{option, values}]`, JSON text or a list)."""
    return [{"option": o["option"], "values": list(o["values"])} for o in _loaded(value) or []]


def card_json(categories: list[dict[str, str]], options: list[dict[str, Any]]) -> bytes:
    """The card fields an engine stores as one JSON value (Tantivy's stored `card` field):
    they are nested, and Tantivy stores flat values only."""
    return json.dumps({"categories": categories, "options": options},
                      separators=(",", ":"), ensure_ascii=False).encode()


class ProductDoc(NamedTuple):
    id: str
    title: str | None
    subtitle: str | None
    handle: str | None
    description: str | None
    status: str | None
    prices: Prices
    currencies: list[str]
    has_stock: bool
    total_stock: int
    category_ids: list[str]
    tags: list[str]
    created_at: str | None
    published_at: str | None
    thumbnail: str | None
    categories: list[dict[str, str]]
    """`[{id, name, handle}]` by name: what a card names its categories with."""
    skus: list[str]
    """The variants' SKUs, by variant position."""
    options: list[dict[str, Any]]
    """`[{"option": "Colour", "values": ["red", "navy"]}]`: the option values some variant
    carries, by option and value position."""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ProductDoc:
        """From an `index_products` row (prices as JSON text or a dict)."""
        prices = _loaded(row["prices"])
        return cls(
            str(row["product_id"]), row["title"], row["subtitle"], row["handle"],
            row["description"], row["status"],
            {cur: {"min": int(v["min"]), "max": int(v["max"])}
             for cur, v in sorted((prices or {}).items())},
            sorted(row["currencies"] or []), bool(row["has_stock"]), int(row["total_stock"]),
            [str(c) for c in row["category_ids"] or []], list(row["tags"] or []),
            _iso(row["created_at"]), _iso(row["published_at"]), row.get("thumbnail"),
            card_categories(row.get("categories")), list(row.get("skus") or []),
            card_options(row.get("options")))

    @classmethod
    def from_tantivy(cls, stored: Mapping[str, list[Any]],
                     currencies: Iterable[str]) -> ProductDoc:
        """From a stored Tantivy document (`Document.to_dict()`); prices of the engine's
        configured `currencies` (the others have no fields)."""
        prices: Prices = {}
        for cur, low, high in _price_columns(tuple(currencies)):
            lows = stored.get(low)
            if lows:
                prices[cur] = {"min": int(lows[0]), "max": int(stored[high][0])}
        card = _loaded(_first(stored, "card")) or {}
        return cls(
            str(stored["id"][0]), _first(stored, "title"), _first(stored, "subtitle"),
            _first(stored, "handle"), _first(stored, "description"),
            _first(stored, "status"), prices, sorted(stored.get("currencies") or ()),
            bool(_first(stored, "has_stock")), int(_first(stored, "total_stock") or 0),
            [str(c) for c in stored.get("category_ids") or ()],
            list(stored.get("tags") or ()), _iso(_first(stored, "created_at")),
            _iso(_first(stored, "published_at")), _first(stored, "thumbnail"),
            card.get("categories") or [], list(stored.get("skus") or ()),
            card.get("options") or [])

    @classmethod
    def from_meili(cls, hit: Mapping[str, Any]) -> ProductDoc:
        """From a Meilisearch hit: values the engine document left out (absent, not null)
        come back as None or the empty default."""
        get = hit.get
        return cls(
            str(hit["id"]), get("title"), get("subtitle"), get("handle"), get("description"),
            get("status"), get("prices") or {}, get("currencies") or [],
            bool(get("has_stock")), int(get("total_stock") or 0), get("category_ids") or [],
            get("tags") or [], get("created_at"), get("published_at"), get("thumbnail"),
            get("categories") or [], get("skus") or [], get("options") or [])


class ContentDoc(NamedTuple):
    id: str
    kind: str | None
    title: str | None
    slug: str | None
    excerpt: str | None
    body_preview: str | None
    status: str | None
    author_id: str | None
    author_name: str | None
    category_id: str | None
    tags: list[str]
    created_at: str | None
    published_at: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ContentDoc:
        """From an `index_content` row."""
        return cls(
            str(row["node_id"]), row["kind"], row["title"], row["slug"], row["excerpt"],
            row["body_preview"], row["status"], _str(row["author_id"]), row["author_name"],
            _str(row["category_id"]), list(row["tags"] or []), _iso(row["created_at"]),
            _iso(row["published_at"]))

    @classmethod
    def from_tantivy(cls, stored: Mapping[str, list[Any]],
                     currencies: Iterable[str] = ()) -> ContentDoc:
        """From a stored Tantivy document (`Document.to_dict()`)."""
        return cls(
            str(stored["id"][0]), _first(stored, "kind"), _first(stored, "title"),
            _first(stored, "slug"), _first(stored, "excerpt"), _first(stored, "body_preview"),
            _first(stored, "status"), _str(_first(stored, "author_id")),
            _first(stored, "author_name"), _str(_first(stored, "category_id")),
            list(stored.get("tags") or ()), _iso(_first(stored, "created_at")),
            _iso(_first(stored, "published_at")))

    @classmethod
    def from_meili(cls, hit: Mapping[str, Any]) -> ContentDoc:
        """From a Meilisearch hit (left-out values come back as None, tags as [])."""
        get = hit.get
        return cls(
            str(hit["id"]), get("kind"), get("title"), get("slug"), get("excerpt"),
            get("body_preview"), get("status"), get("author_id"), get("author_name"),
            get("category_id"), get("tags") or [], get("created_at"), get("published_at"))


Document = ProductDoc | ContentDoc
