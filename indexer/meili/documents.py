"""Meilisearch documents built from index-table rows, and the index settings that make them
searchable, filterable and sortable the way the search contract needs (pure).

A document carries the hit `document` every backend returns (exactly what
`search_api.backends.documents.from_row` makes of the row, so hits are identical across
backends) plus fields only the engine reads: more searchable text, sort keys, timestamps as
integer microseconds, and one flat price pair per configured currency.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from core_write.errors import ValidationFailed
from indexer.tantivy.config import DocType
from indexer.tantivy.schema import price_fields
from search_api.backends.documents import CONTENT_KEYS, PRODUCT_KEYS, from_row

SHAPE_VERSION = 1
"""Bump when the document shape changes: every index is rebuilt (behind a swap) on start."""
MAX_TOTAL_HITS = 1_000_000
"""`pagination.maxTotalHits`: totals are exact up to this many hits."""
MAX_FACET_VALUES = 10_000
"""`faceting.maxValuesPerFacet`: facet counts are exact up to this many distinct values."""

SEARCHABLE: dict[DocType, list[str]] = {
    # attribute order is the attribute ranking rule: a title match outranks the rest
    "product": ["title", "tags", "category_names", "subtitle", "meta_title", "description",
                "meta_description"],
    "content": ["title", "tags", "excerpt", "category_name", "author_name", "meta_title",
                "body_preview", "meta_description"],
}
_FILTERABLE: dict[DocType, list[str]] = {
    "product": ["status", "category_ids", "tags", "currencies", "has_stock", "created_at_us"],
    "content": ["status", "kind", "category_id", "tags", "author_id", "published_at_us",
                "created_at_us"],
}
_SORTABLE: dict[DocType, list[str]] = {
    "product": ["id", "title_sort", "created_at_us", "published_at_us"],
    "content": ["id", "title_sort", "created_at_us", "published_at_us"],
}
RANKING_RULES = ["sort", "words", "typo", "proximity", "attribute", "exactness"]
"""`sort` first: an explicit sort orders purely by value (then id), like the other backends;
without a sort parameter the rule does nothing and relevance decides."""


def display_keys(doc_type: DocType) -> tuple[str, ...]:
    return PRODUCT_KEYS if doc_type == "product" else CONTENT_KEYS


def index_settings(doc_type: DocType, currencies: Iterable[str]) -> dict[str, Any]:
    """The index settings (Meilisearch's camelCase JSON) of one doc type."""
    filterable = list(_FILTERABLE[doc_type])
    sortable = list(_SORTABLE[doc_type])
    if doc_type == "product":
        for cur in currencies:
            filterable += price_fields(cur)
            sortable += price_fields(cur)
    return {
        "searchableAttributes": SEARCHABLE[doc_type],
        "filterableAttributes": sorted(filterable),
        "sortableAttributes": sorted(sortable),
        "rankingRules": RANKING_RULES,
        "typoTolerance": {
            # one typo from 5 letters (like the other backends' fuzzy titles), never two
            "enabled": True,
            "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 255},
        },
        "faceting": {"maxValuesPerFacet": MAX_FACET_VALUES},
        "pagination": {"maxTotalHits": MAX_TOTAL_HITS},
    }


_UNORDERED = frozenset({"filterableAttributes", "sortableAttributes"})


def settings_drift(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The desired settings whose current value differs (an empty dict: in sync). Attribute
    lists that Meilisearch treats as sets compare as sets; nested objects compare on the keys
    we set."""
    drift: dict[str, Any] = {}
    for key, want in desired.items():
        have = current.get(key)
        if key in _UNORDERED:
            same = isinstance(have, list) and sorted(map(str, have)) == sorted(want)
        elif isinstance(want, Mapping):
            same = isinstance(have, Mapping) and not settings_drift(have, want)
        else:
            same = have == want
        if not same:
            drift[key] = want
    return drift


def _micros(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationFailed(field, f"need a timestamp, got {value!r}")
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return int(value.timestamp() * 1_000_000)


def micros(value: datetime) -> int:
    """A timestamp as the integer microseconds the engine filters and sorts on."""
    result = _micros(value, "timestamp")
    assert result is not None
    return result


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def meili_document(doc_type: DocType, row: Mapping[str, Any],
                   currencies: Iterable[str]) -> dict[str, Any]:
    """The engine document of one `index_products` / `index_content` row. Absent values are
    left out (so `EXISTS` filters and missing-last sorts work)."""
    table = "index_products" if doc_type == "product" else "index_content"
    if row.get("version") is None:
        raise ValidationFailed(f"{table}.version", "missing")
    doc = from_row(doc_type, row)
    title = row.get("title")
    doc.update(
        tenant_id=str(row["tenant_id"]), version=int(row["version"]),
        title_sort=title.strip(" ").lower() if title else None,
        meta_title=row.get("meta_title"), meta_description=row.get("meta_description"),
        created_at_us=_micros(row.get("created_at"), f"{table}.created_at"),
        published_at_us=_micros(row.get("published_at"), f"{table}.published_at"),
    )
    if doc_type == "product":
        categories = _json(row.get("categories")) or []
        doc["category_names"] = [c["name"] for c in categories if c.get("name")]
        for cur in currencies:
            entry = doc["prices"].get(cur)
            if entry is not None:
                low, high = price_fields(cur)
                doc[low], doc[high] = entry["min"], entry["max"]
    else:
        doc["category_name"] = row.get("category_name")
    return {key: value for key, value in doc.items() if value is not None}
