"""The `document` shape every backend returns in a hit, mapped from an index-table row or a
stored Tantivy document, and the <mark> helpers for suggestions and snippets (pure).

Product document: id, title, subtitle, handle, description, status, prices
({"EUR": {"min": 100, "max": 250}}, minor units), currencies, has_stock, total_stock,
category_ids, tags, created_at, published_at. Content document: id, kind, title, slug,
excerpt, body_preview, status, author_id, author_name, category_id, tags, created_at,
published_at. Ids are strings, timestamps ISO 8601 strings in UTC (or None).
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from indexer.tantivy.schema import price_fields
from search_api.model import DocType

PRODUCT_KEYS = ("id", "title", "subtitle", "handle", "description", "status", "prices",
                "currencies", "has_stock", "total_stock", "category_ids", "tags",
                "created_at", "published_at")
CONTENT_KEYS = ("id", "kind", "title", "slug", "excerpt", "body_preview", "status",
                "author_id", "author_name", "category_id", "tags", "created_at",
                "published_at")
MARK, UNMARK = "<mark>", "</mark>"
HIGHLIGHT_FIELDS: dict[DocType, tuple[str, str]] = {"product": ("title", "description"),
                                                    "content": ("title", "body_preview")}
"""The fields a highlighted search marks: the title, and the long text a fragment is cut
from (every engine backend marks the same ones)."""


def _iso(value: Any) -> str | None:
    if not isinstance(value, datetime):
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return str(value.isoformat())


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def from_row(doc_type: DocType, row: Mapping[str, Any]) -> dict[str, Any]:
    """A hit document from an `index_products` / `index_content` row."""
    if doc_type == "product":
        prices = row["prices"]
        if isinstance(prices, str):
            prices = json.loads(prices)
        return {
            "id": str(row["product_id"]), "title": row["title"], "subtitle": row["subtitle"],
            "handle": row["handle"], "description": row["description"],
            "status": row["status"],
            "prices": {cur: {"min": int(v["min"]), "max": int(v["max"])}
                       for cur, v in sorted((prices or {}).items())},
            "currencies": sorted(row["currencies"] or []), "has_stock": bool(row["has_stock"]),
            "total_stock": int(row["total_stock"]),
            "category_ids": [str(c) for c in row["category_ids"] or []],
            "tags": list(row["tags"] or []), "created_at": _iso(row["created_at"]),
            "published_at": _iso(row["published_at"]),
        }
    return {
        "id": str(row["node_id"]), "kind": row["kind"], "title": row["title"],
        "slug": row["slug"], "excerpt": row["excerpt"], "body_preview": row["body_preview"],
        "status": row["status"], "author_id": _str(row["author_id"]),
        "author_name": row["author_name"], "category_id": _str(row["category_id"]),
        "tags": list(row["tags"] or []), "created_at": _iso(row["created_at"]),
        "published_at": _iso(row["published_at"]),
    }


def from_stored(doc_type: DocType, stored: Mapping[str, Any],
                currencies: Iterable[str]) -> dict[str, Any]:
    """A hit document from stored Tantivy values (`schema.stored_values`); prices only for the
    engine's configured currencies (the others have no fields)."""
    if doc_type == "product":
        prices = {}
        for cur, low, high in _price_columns(tuple(currencies)):
            if stored.get(low) is not None:
                prices[cur] = {"min": int(stored[low]), "max": int(stored[high])}
        row = {**{k: stored.get(k) for k in PRODUCT_KEYS}, "product_id": stored["id"],
               "prices": prices, "total_stock": stored.get("total_stock") or 0}
        return from_row("product", row)
    row = {**{k: stored.get(k) for k in CONTENT_KEYS}, "node_id": stored["id"]}
    return from_row("content", row)


@functools.lru_cache(maxsize=16)
def _price_columns(currencies: tuple[str, ...]) -> tuple[tuple[str, str, str], ...]:
    """(currency, low field, high field), currencies sorted."""
    return tuple((cur, *price_fields(cur)) for cur in sorted(currencies))


def mark_ranges(text: str, ranges: Sequence[tuple[int, int]]) -> str:
    """`text` HTML-escaped with each [start, end) range wrapped in <mark></mark>."""
    out, pos = [], 0
    for start, end in sorted(ranges):
        if start < pos:
            continue
        out += [html.escape(text[pos:start]), MARK, html.escape(text[start:end]), UNMARK]
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def mark_prefixes(title: str, words: Sequence[str]) -> str:
    """`title` with every word that starts with one of `words` (case-insensitive) marked on
    the matching prefix (suggestions)."""
    ranges: list[tuple[int, int]] = []
    lowered = title.lower()  # same length as title (casefold may not be)
    start = None
    for index, char in enumerate([*lowered, " "]):
        if char.isalnum() and start is None:
            start = index
        elif not char.isalnum() and start is not None:
            token = lowered[start:index]
            best = max((len(w) for w in words if w and token.startswith(w)), default=0)
            if best:
                ranges.append((start, start + best))
            start = None
    return mark_ranges(title, ranges)


def marked_headline(fragment: str, start: str = "\u27e6", stop: str = "\u27e7") -> str:
    """A PostgreSQL `ts_headline` fragment delimited by `start`/`stop`, HTML-escaped, with the
    delimiters turned into <mark></mark>."""
    return html.escape(fragment).replace(start, MARK).replace(stop, UNMARK)
