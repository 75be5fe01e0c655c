"""Index rows as engine documents: the field values of a Tantivy document (the fields of
`indexer.tantivy.schema`) and the Meilisearch document (the hit document plus the fields only
the engine reads, see `indexer.meili.documents` for its settings) (pure).

Both come from a row of `index_products` / `index_content` (migrations/0003_index.sql) with
the columns `indexer.model.doctypes.SPECS[...].columns`; the hit part of each is read back by
`indexer.model.docs`.
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from core_write.errors import ValidationFailed
from indexer.model.docs import ContentDoc, ProductDoc, card_categories, card_json, card_options
from indexer.model.doctypes import SPECS, DocType, DocTypeSpec
from indexer.model.relevance import field_tiers
from indexer.model.text import (
    prefix_word,
    price_fields,
    stemmer,
    title_sort_key,
)

_PRODUCTS, _CONTENT = SPECS["product"], SPECS["content"]


# ---- Tantivy ------------------------------------------------------------------------------
_ALNUM = re.compile(r"[^\W_]+")
_FIRST = operator.itemgetter(0)
_price_fields = functools.lru_cache(maxsize=256)(price_fields)
"""`price_fields`, remembered (a field name pair per currency)."""


def match_words(text: str) -> list[str]:
    """The casefolded words of `text` as Tantivy's default tokenizer splits them (letters and
    digits; `_` separates, unlike `query_words`)."""
    return _ALNUM.findall(text.casefold())


def match_query(text: str) -> tuple[list[str], bool]:
    """The words of user text as the match fields hold them (`match_words`), and whether the
    last one also matches as a prefix (`text.prefix_word`)."""
    words = match_words(text)
    last = prefix_word(text)
    return words, bool(words) and last is not None and last.endswith(words[-1])


def match_term(word: str) -> str:
    """A word as the tier fields index it: its first letter doubled, so an automaton counting
    edits counts one on the first letter as two (`FIRST_LETTER_TYPO_COST`: `leather` is
    `lleather`, `feather` is `ffeather`, two edits apart)."""
    return word[:1] + word


def match_values(tiers: Sequence[Iterable[str | None]], language: str | None,
                 ) -> dict[str, str]:
    """The match fields of a document (`indexer.tantivy.schema.MATCH_FIELDS` and `STEMS`)
    from its searchable text per field tier (title, middle, long text): its words
    (`match_words`) as `match_term`s, and the tiers' stems. (The loops run in C, by `map`:
    this is most of what mapping a row costs.)"""
    words: list[list[str]] = []
    doubled: list[str] = []
    for tier in tiers:
        found = _ALNUM.findall(" ".join([text for text in tier if text]).casefold())
        words.append(found)
        doubled.append(" ".join(map(operator.add, map(_FIRST, found), found)))
    stems: list[str] = []
    stem = stemmer(language)
    if stem is not None:
        # each tier's distinct stems, in the order of their first word
        for number, found in enumerate(words, start=1):
            stems.append(" ".join(map(f"{number}".__add__, dict.fromkeys(map(stem, found)))))
    return {"tier1": doubled[0], "tier2": doubled[1], "words": " ".join(doubled),
            "stems": " ".join(stems)}


def tiered(doc_type: DocType, row: Mapping[str, Any],
           texts: Mapping[str, Iterable[str | None]]) -> list[list[str | None]]:
    """The searchable texts of each weighable field (`relevance.FIELDS`, in that order)
    grouped into the tiers the row's `field_weights` give them (the tenant's letters; none:
    the defaults), for `match_values`."""
    tiers: list[list[str | None]] = [[], [], []]
    for name, tier in field_tiers(doc_type, row.get("field_weights")).items():
        tiers[tier - 1].extend(texts[name])
    return tiers


def product_values(row: Mapping[str, Any], currencies: Collection[str]) -> dict[str, Any]:
    """Field values of one `index_products` row; prices of currencies without fields are
    dropped (the `currencies` field still lists them)."""
    table = _PRODUCTS.table
    doc = _common(row, _PRODUCTS)
    categories = _json(row.get("categories"), f"{table}.categories") or []
    doc.update(
        subtitle=row.get("subtitle"), handle=row["handle"], description=row.get("description"),
        category_ids=_ids(row.get("category_ids")),
        category_names=[c["name"] for c in categories if c.get("name")],
        category_handles=[c["handle"] for c in categories if c.get("handle")],
        currencies=list(row.get("currencies") or []),
        has_stock=bool(row["has_stock"]), total_stock=int(row["total_stock"]),
        **_card_values(row),
    )
    doc.update(match_values(tiered("product", row, {
        "title": [row.get("title")], "subtitle": [row.get("subtitle")], "tags": doc["tags"],
        "categories": doc["category_names"], "options": doc["option_words"],
        "description": [row.get("description")],
        "meta": [row.get("meta_title"), row.get("meta_description")],
    }), row.get("language")))
    prices = _json(row.get("prices"), f"{table}.prices") or {}
    # a product has prices in a currency or two of the (up to 183) with fields: look those up
    # (`currencies` a set for speed: the followers pass one)
    for cur, entry in prices.items():
        if entry is None or cur not in currencies:
            continue
        low, high = _price_fields(cur)
        amount = entry.get("min")  # whole minor units, checked only when not an int
        doc[low] = amount if type(amount) is int else _minor_units(
            amount, f"{table}.prices.{cur}.min")
        amount = entry.get("max")
        doc[high] = amount if type(amount) is int else _minor_units(
            amount, f"{table}.prices.{cur}.max")
    return _compact(doc)


def _card_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """The product card fields (thumbnail, SKUs, `card` JSON of categories and options), the
    option facet values and the exact-match identifiers of a Tantivy product document."""
    options = card_options(row.get("options"))
    return {
        "thumbnail": row.get("thumbnail"), "skus": list(row.get("skus") or []),
        "option_values": list(row.get("option_values") or []),
        "option_words": [value for option in options for value in option["values"]],
        "identifiers": list(row.get("identifiers") or []),
        "card": card_json(card_categories(row.get("categories")), options),
    }


def content_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """Field values of one `index_content` row."""
    doc = _common(row, _CONTENT)
    doc.update(
        kind=row["kind"], slug=row.get("slug"), excerpt=row.get("excerpt"),
        body_preview=row.get("body_preview"), author_id=_id(row.get("author_id")),
        author_name=row.get("author_name"), category_id=_id(row.get("category_id")),
        category_name=row.get("category_name"), category_slug=row.get("category_slug"),
        parent_id=_id(row.get("parent_id")), reply_count=int(row.get("reply_count") or 0),
    )
    doc.update(match_values(tiered("content", row, {
        "title": [row.get("title")], "excerpt": [row.get("excerpt")], "tags": doc["tags"],
        "category": [row.get("category_name")], "body": [row.get("body_preview")],
        "author": [row.get("author_name")],
        "meta": [row.get("meta_title"), row.get("meta_description")],
    }), row.get("language")))
    return _compact(doc)


def tantivy_values(doc_type: DocType, row: Mapping[str, Any],
                   currencies: Collection[str]) -> dict[str, Any]:
    """The Tantivy field values of one index row (`tantivy.Document(**values)`)."""
    if doc_type == "product":
        return product_values(row, currencies)
    return content_values(row)


def _common(row: Mapping[str, Any], spec: DocTypeSpec) -> dict[str, Any]:
    table = spec.table
    version = row.get("version")
    if version is None:
        raise ValidationFailed(f"{table}.version", "missing")
    return {
        "id": _id(row[spec.key]), "tenant_id": _id(row["tenant_id"]),
        "status": row["status"], "title": row.get("title"),
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


# ---- Meilisearch --------------------------------------------------------------------------
def _micros(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationFailed(field, f"need a timestamp, got {value!r}")
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return int(value.timestamp() * 1_000_000)


def micros(value: datetime) -> int:
    """A timestamp as the integer microseconds Meilisearch filters and sorts on."""
    result = _micros(value, "timestamp")
    assert result is not None
    return result


def meili_document(doc_type: DocType, row: Mapping[str, Any],
                   currencies: Iterable[str]) -> dict[str, Any]:
    """The Meilisearch document of one index row: the hit document (`ProductDoc` /
    `ContentDoc`, read back by their `from_meili`) plus sort keys, timestamps as integer
    microseconds and one flat price pair per configured currency. Absent values are left
    out (so `EXISTS` filters and missing-last sorts work)."""
    table = SPECS[doc_type].table
    if row.get("version") is None:
        raise ValidationFailed(f"{table}.version", "missing")
    model: type[ProductDoc] | type[ContentDoc] = SPECS[doc_type].model
    doc = model.from_row(row)._asdict()
    doc.update(
        tenant_id=str(row["tenant_id"]), version=int(row["version"]),
        title_sort=title_sort_key(row.get("title")),
        meta_title=row.get("meta_title"), meta_description=row.get("meta_description"),
        created_at_us=_micros(row.get("created_at"), f"{table}.created_at"),
        published_at_us=_micros(row.get("published_at"), f"{table}.published_at"),
    )
    if doc_type == "product":
        categories = _json(row.get("categories"), f"{table}.categories") or []
        doc["category_names"] = [c["name"] for c in categories if c.get("name")]
        doc["in_stock"] = 1 if doc["has_stock"] else 0  # Meilisearch sorts numbers, not booleans
        doc["option_values"] = list(row.get("option_values") or [])
        doc["identifiers"] = list(row.get("identifiers") or [])
        for cur in currencies:
            entry = doc["prices"].get(cur)
            if entry is not None:
                low, high = price_fields(cur)
                doc[low], doc[high] = entry["min"], entry["max"]
    else:
        doc["category_name"] = row.get("category_name")
    return {key: value for key, value in doc.items() if value is not None}
