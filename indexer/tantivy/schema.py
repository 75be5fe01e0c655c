"""Tantivy schemas of the product and content indexes, and the pure mapping from a row of
`index_products` / `index_content` (migrations/0003_index.sql) to the field values (no I/O).

Field conventions: ids, statuses, handles and facet values use the `raw` tokenizer (exact
terms; ids must be raw for `delete_documents_by_term`), user-searchable text uses the default
tokenizer with positions (phrases, phrase prefixes), anything a filter, facet or sort reads
is a fast field. Prices live in one i64 pair per configured currency
(`price_min_eur`, `price_max_eur`, ...) in minor units.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import tantivy

from core_write.errors import ValidationFailed
from indexer.tantivy.config import DEFAULT_CURRENCIES, DocType

FieldKind = Literal["text", "raw", "i64", "bool", "date"]
TITLE_SORT_CHARS = 128


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: FieldKind
    stored: bool = True
    fast: bool = False
    multi: bool = False


def _raw(name: str, *, fast: bool = False, multi: bool = False,
         stored: bool = True) -> FieldSpec:
    return FieldSpec(name, "raw", stored=stored, fast=fast, multi=multi)


def _text(name: str, *, multi: bool = False, stored: bool = True) -> FieldSpec:
    return FieldSpec(name, "text", stored=stored, multi=multi)


def _num(name: str, kind: FieldKind = "i64") -> FieldSpec:
    return FieldSpec(name, kind, fast=True)


_COMMON_HEAD = (
    _raw("id"), _raw("tenant_id"), _raw("status", fast=True),
    _text("title"), _raw("title_sort", fast=True, stored=False),
)
_COMMON_TAIL = (
    _raw("tags", fast=True, multi=True), _text("tags_text", multi=True, stored=False),
    _raw("tag_ids", fast=True, multi=True),
    _text("meta_title"), _text("meta_description"),
    _num("created_at", "date"), _num("published_at", "date"), _num("version"),
)
_PRODUCT_FIELDS = (
    *_COMMON_HEAD,
    _text("subtitle"), _raw("handle"), _text("description"),
    _raw("category_ids", fast=True, multi=True), _text("category_names", multi=True),
    _raw("category_handles", multi=True),
    _raw("currencies", fast=True, multi=True),
    _num("has_stock", "bool"), _num("total_stock"),
    *_COMMON_TAIL,
)
_CONTENT_FIELDS = (
    *_COMMON_HEAD,
    _raw("kind", fast=True), _raw("slug"), _text("excerpt"), _text("body_preview"),
    _raw("author_id", fast=True), _text("author_name"),
    _raw("category_id", fast=True), _text("category_name"), _raw("category_slug"),
    _raw("parent_id", fast=True), _num("reply_count"),
    *_COMMON_TAIL,
)

SEARCH_FIELDS: dict[DocType, dict[str, float]] = {
    "product": {"title": 3.0, "tags_text": 2.0, "category_names": 1.5, "subtitle": 1.5,
                "meta_title": 1.0, "description": 1.0, "meta_description": 1.0},
    "content": {"title": 3.0, "tags_text": 2.0, "excerpt": 1.5, "category_name": 1.5,
                "author_name": 1.0, "meta_title": 1.0, "body_preview": 1.0,
                "meta_description": 1.0},
}
"""Fields user text is matched against, with their boosts."""


@functools.lru_cache(maxsize=1024)
def price_fields(currency: str) -> tuple[str, str]:
    cur = currency.lower()
    return f"price_min_{cur}", f"price_max_{cur}"


def field_specs(
    doc_type: DocType, currencies: Iterable[str] = DEFAULT_CURRENCIES
) -> tuple[FieldSpec, ...]:
    if doc_type == "content":
        return _CONTENT_FIELDS
    prices = tuple(_num(name) for cur in currencies for name in price_fields(cur))
    return _PRODUCT_FIELDS + prices


def build_schema(
    doc_type: DocType, currencies: Iterable[str] = DEFAULT_CURRENCIES
) -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for spec in field_specs(doc_type, currencies):
        if spec.kind == "text":
            builder.add_text_field(spec.name, stored=spec.stored, index_option="position")
        elif spec.kind == "raw":
            builder.add_text_field(spec.name, stored=spec.stored, fast=spec.fast,
                                   tokenizer_name="raw", index_option="basic")
        elif spec.kind == "i64":
            builder.add_integer_field(spec.name, stored=spec.stored, indexed=True,
                                      fast=spec.fast)
        elif spec.kind == "bool":
            builder.add_boolean_field(spec.name, stored=spec.stored, indexed=True,
                                      fast=spec.fast)
        else:
            builder.add_date_field(spec.name, stored=spec.stored, indexed=True, fast=spec.fast)
    return builder.build()


# ---- rows → field values -------------------------------------------------------------------
def product_document(
    row: Mapping[str, Any], currencies: Iterable[str] = DEFAULT_CURRENCIES
) -> dict[str, Any]:
    """Field values of one `index_products` row; prices of currencies without fields are
    dropped (the `currencies` field still lists them)."""
    doc = _common(row, "product_id", "index_products")
    categories = _json(row.get("categories"), "index_products.categories") or []
    doc.update(
        subtitle=row.get("subtitle"), handle=row["handle"], description=row.get("description"),
        category_ids=_ids(row.get("category_ids")),
        category_names=[c["name"] for c in categories if c.get("name")],
        category_handles=[c["handle"] for c in categories if c.get("handle")],
        currencies=list(row.get("currencies") or []),
        has_stock=bool(row["has_stock"]), total_stock=int(row["total_stock"]),
    )
    prices = _json(row.get("prices"), "index_products.prices") or {}
    for cur in currencies:
        entry = prices.get(cur)
        if entry is None:
            continue
        low, high = price_fields(cur)
        doc[low] = _minor_units(entry.get("min"), f"index_products.prices.{cur}.min")
        doc[high] = _minor_units(entry.get("max"), f"index_products.prices.{cur}.max")
    return _compact(doc)


def content_document(row: Mapping[str, Any]) -> dict[str, Any]:
    """Field values of one `index_content` row."""
    doc = _common(row, "node_id", "index_content")
    doc.update(
        kind=row["kind"], slug=row.get("slug"), excerpt=row.get("excerpt"),
        body_preview=row.get("body_preview"), author_id=_id(row.get("author_id")),
        author_name=row.get("author_name"), category_id=_id(row.get("category_id")),
        category_name=row.get("category_name"), category_slug=row.get("category_slug"),
        parent_id=_id(row.get("parent_id")), reply_count=int(row.get("reply_count") or 0),
    )
    return _compact(doc)


def document_for(
    doc_type: DocType, row: Mapping[str, Any], currencies: Iterable[str] = DEFAULT_CURRENCIES
) -> dict[str, Any]:
    if doc_type == "product":
        return product_document(row, currencies)
    return content_document(row)


@functools.lru_cache(maxsize=4)
def _stored_multi(doc_type: DocType) -> frozenset[str]:
    return frozenset(spec.name for spec in field_specs(doc_type, ())
                     if spec.multi and spec.stored)


def stored_values(doc_type: DocType, stored: Mapping[str, list[Any]]) -> dict[str, Any]:
    """A stored tantivy document (`Document.to_dict()`, every value a list) as plain values:
    multi-valued fields stay lists, single-valued ones become scalars."""
    multi = _stored_multi(doc_type)
    out: dict[str, Any] = {}
    for name, values in stored.items():
        out[name] = list(values) if name in multi else (values[0] if values else None)
    for name in multi:
        out.setdefault(name, [])
    return out


def _common(row: Mapping[str, Any], id_column: str, table: str) -> dict[str, Any]:
    title = row.get("title")
    version = row.get("version")
    if version is None:
        raise ValidationFailed(f"{table}.version", "missing")
    return {
        "id": _id(row[id_column]), "tenant_id": _id(row["tenant_id"]),
        "status": row["status"], "title": title,
        "title_sort": title.strip().casefold()[:TITLE_SORT_CHARS] if title else None,
        "tags": list(row.get("tags") or []), "tags_text": list(row.get("tags") or []),
        "tag_ids": _ids(row.get("tag_ids")),
        "meta_title": row.get("meta_title"), "meta_description": row.get("meta_description"),
        "created_at": _utc(row.get("created_at"), f"{table}.created_at"),
        "published_at": _utc(row.get("published_at"), f"{table}.published_at"),
        "version": int(version),
    }


def _compact(doc: dict[str, Any]) -> dict[str, Any]:
    """Absent values are left out (tantivy has no null); empty lists are kept."""
    return {name: value for name, value in doc.items() if value is not None}


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def _ids(values: Iterable[Any] | None) -> list[str]:
    return [str(value) for value in values or ()]


def _json(value: Any, field: str) -> Any:
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ValidationFailed(field, f"not JSON: {exc}") from None
    return value


def _minor_units(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed(field, f"need an amount in minor units, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ValidationFailed(field, f"need whole minor units, got {value!r}")
    return int(value)


def _utc(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationFailed(field, f"need a timestamp, got {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
