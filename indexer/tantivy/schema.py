"""Tantivy schemas of the product and content indexes (pure: no I/O; index rows become their
field values in `indexer.model.engines`).

Field conventions: ids, statuses, handles and facet values use the `raw` tokenizer (exact
terms; ids must be raw for `delete_documents_by_term`), user-searchable text uses the default
tokenizer with positions (phrases, phrase prefixes), anything a filter, facet or sort reads
is a fast field. Prices live in one i64 pair per configured currency
(`price_min_eur`, `price_max_eur`, ...) in minor units.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import tantivy

from core_write.process_settings import DEFAULT_CURRENCIES
from indexer.model import DocType
from indexer.model.text import price_fields

FieldKind = Literal["text", "raw", "i64", "bool", "date", "bytes"]


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
    _text("title"),
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
    _raw("thumbnail"), _raw("skus", multi=True),
    # "Option:value" terms (facets, filters); lowercased handle, SKUs and barcodes: what a
    # whole query matches exactly (`compile_tantivy.identifier_match`)
    _raw("option_values", fast=True, multi=True, stored=False),
    _raw("identifiers", multi=True, stored=False),
    _text("option_words", multi=True, stored=False),  # option values, searchable text
    FieldSpec("card", "bytes"),  # categories and options as JSON (`docs.card_json`)
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
    "product": {"title": 3.0, "tags_text": 2.0, "category_names": 1.5, "option_words": 1.5,
                "subtitle": 1.5,
                "meta_title": 1.0, "description": 1.0, "meta_description": 1.0},
    "content": {"title": 3.0, "tags_text": 2.0, "excerpt": 1.5, "category_name": 1.5,
                "author_name": 1.0, "meta_title": 1.0, "body_preview": 1.0,
                "meta_description": 1.0},
}
"""Fields user text is matched against, with their boosts."""


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
        elif spec.kind == "bytes":  # stored only: nothing searches it
            builder.add_bytes_field(spec.name, stored=spec.stored, indexed=False)
        elif spec.kind == "bool":
            builder.add_boolean_field(spec.name, stored=spec.stored, indexed=True,
                                      fast=spec.fast)
        else:
            builder.add_date_field(spec.name, stored=spec.stored, indexed=True, fast=spec.fast)
    return builder.build()


@functools.lru_cache(maxsize=4)
def _stored_multi(doc_type: DocType) -> frozenset[str]:
    return frozenset(spec.name for spec in field_specs(doc_type, ())
                     if spec.multi and spec.stored)


def stored_values(doc_type: DocType, stored: Mapping[str, list[Any]]) -> dict[str, Any]:
    """A stored tantivy document (`Document.to_dict()`, every value a list) as plain values:
    multi-valued fields stay lists, single-valued ones become scalars. For tests and
    `bench/freshness.py` only: the API maps a hit once, with the document models."""
    multi = _stored_multi(doc_type)
    out: dict[str, Any] = {}
    for name, values in stored.items():
        out[name] = list(values) if name in multi else (values[0] if values else None)
    for name in multi:
        out.setdefault(name, [])
    return out
