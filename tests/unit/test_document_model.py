"""The document model (no I/O: Tantivy indexes live in memory): the registry of document
types, the typed documents read from each backend's answer, and index rows as Tantivy field
values and Meilisearch documents. The same row gives the same hit document from every
engine."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, get_args

import pytest
import tantivy

from core_write.errors import ValidationFailed
from indexer.model import BY_SECTION, DOC_TYPES, SPECS, ContentDoc, DocType, ProductDoc
from indexer.model.engines import (
    content_values,
    meili_document,
    micros,
    product_values,
    tantivy_values,
)
from indexer.model.text import title_sort_key
from indexer.tantivy.schema import build_schema, field_specs
from search_api.facets import ContentFacet, ProductFacet
from tests.index_rows import CREATED, TENANT, content_row, product_row

CAT = uuid.UUID("01900000-0000-7000-8000-0000000000c1")
CURRENCIES = ("EUR", "USD")


def schema_fields(doc_type: Any, currencies: tuple[str, ...] = ("EUR", "USD")) -> set[str]:
    return {spec.name for spec in field_specs(doc_type, currencies)}


# ---- the registry -------------------------------------------------------------------------
def test_every_doc_type_has_one_entry_naming_its_table_and_columns() -> None:
    assert tuple(SPECS) == DOC_TYPES == ("product", "content")
    assert {BY_SECTION[spec.section] for spec in SPECS.values()} == set(DOC_TYPES)
    assert len({spec.lock_class for spec in SPECS.values()}) == len(SPECS)
    for spec in SPECS.values():
        engine_columns = {c.strip() for c in spec.columns.split(",")}
        assert spec.key in engine_columns and spec.table.startswith("index_")
        # a hit is read from columns the engines get too, the id from the key column
        assert {c.strip() for c in spec.hit_columns.split(",")} <= engine_columns
        assert spec.model._fields[0] == "id" and set(spec.highlight) <= set(spec.model._fields)
    # every facet of the query model but price (its currency's fields) counts one field
    assert {*SPECS["product"].facet_fields, "price"} == set(get_args(ProductFacet))
    assert set(SPECS["content"].facet_fields) == set(get_args(ContentFacet))


# ---- hits: one typed document from every backend ------------------------------------------
def test_documents_have_one_shape_from_rows_and_stored_values() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    pid = uuid.uuid4()
    row = {"product_id": pid, "title": "T", "subtitle": None, "handle": "t",
           "description": "d", "status": "published",
           "prices": '{"EUR": {"min": 1, "max": 2}, "SEK": {"min": 3, "max": 4}}',
           "currencies": ["SEK", "EUR"], "has_stock": True, "total_stock": 3,
           "category_ids": [CAT], "tags": ["a"], "created_at": when, "published_at": None}
    doc = ProductDoc.from_row(row)._asdict()
    assert tuple(doc) == ("id", "title", "subtitle", "handle", "description", "status",
                          "prices", "currencies", "has_stock", "total_stock", "category_ids",
                          "tags", "created_at", "published_at", "thumbnail", "categories",
                          "skus", "options")
    assert doc["prices"] == {"EUR": {"min": 1, "max": 2}, "SEK": {"min": 3, "max": 4}}
    assert doc["created_at"] == "2024-01-02T03:04:05+00:00" and doc["category_ids"] == [str(CAT)]
    stored = {"id": [str(pid)], "title": ["T"], "handle": ["t"], "description": ["d"],
              "status": ["published"], "price_min_eur": [1], "price_max_eur": [2],
              "currencies": ["EUR", "SEK"], "has_stock": [True], "total_stock": [3],
              "category_ids": [str(CAT)], "tags": ["a"], "created_at": [when]}
    assert ProductDoc.from_tantivy(stored, ("EUR", "USD"))._asdict() == {
        **doc, "prices": {"EUR": {"min": 1, "max": 2}}}
    content = ContentDoc.from_tantivy({"id": [str(pid)], "kind": ["page"], "tags": []})._asdict()
    assert tuple(content) == ("id", "kind", "title", "slug", "excerpt", "body_preview",
                              "status", "author_id", "author_name", "category_id", "tags",
                              "created_at", "published_at")
    assert content["author_id"] is None


@pytest.mark.parametrize("doc_type", DOC_TYPES)
@pytest.mark.parametrize("sparse", [False, True])
def test_every_engine_gives_back_the_document_of_the_row(doc_type: DocType,
                                                         sparse: bool) -> None:
    """Row → Tantivy document → stored values, and row → Meilisearch document → hit, both
    read back as the document PostgreSQL reads from the row (Tantivy has price fields for
    its configured currencies only)."""
    if doc_type == "product":
        row = product_row(published_at=CREATED, meta_title="M")
        if sparse:
            row = product_row(subtitle=None, description=None, prices={}, currencies=[],
                              categories=[], category_ids=[], tags=[], has_stock=False,
                              total_stock=0)
    else:
        row = content_row(category_id=CAT, category_name="News", parent_id=uuid.uuid4())
        if sparse:
            row = content_row(author_id=None, author_name=None, tags=[], published_at=None,
                              excerpt=None, slug=None)
    model = SPECS[doc_type].model
    want = model.from_row(row)._asdict()
    index = tantivy.Index(build_schema(doc_type, CURRENCIES))
    writer = index.writer(heap_size=20_000_000, num_threads=1)
    writer.add_document(tantivy.Document(**tantivy_values(doc_type, row, CURRENCIES)))
    writer.commit()
    index.reload()
    searcher = index.searcher()
    (_, address), = searcher.search(tantivy.Query.all_query(), 1).hits
    configured = {**want, "prices": {cur: p for cur, p in want["prices"].items()
                                     if cur in CURRENCIES}} if doc_type == "product" else want
    assert model.from_tantivy(searcher.doc(address).to_dict(), CURRENCIES)._asdict() == configured
    engine_doc = meili_document(doc_type, row, CURRENCIES)
    shown = {key: engine_doc[key] for key in model._fields if key in engine_doc}
    assert model.from_meili(shown)._asdict() == want


# ---- index rows as Tantivy field values ---------------------------------------------------
def test_product_values_maps_every_column() -> None:
    row = product_row()
    doc = product_values(row, ("EUR", "USD"))
    assert doc["id"] == str(row["product_id"]) and doc["tenant_id"] == str(TENANT)
    assert doc["title"] == "  Red Running Shoe " and "title_sort" not in doc  # sorts stored
    assert title_sort_key(doc["title"]) == "red running shoe"
    assert doc["price_min_eur"] == 1999 and doc["price_max_eur"] == 2499
    assert "price_min_usd" not in doc  # no USD price
    assert doc["currencies"] == ["EUR", "XTS"]  # listed, but XTS has no price fields
    assert doc["category_ids"] == [str(row["category_ids"][0])]
    assert doc["category_names"] == ["Shoes"] and doc["category_handles"] == ["shoes"]
    assert doc["tags"] == doc["tags_text"] == ["sale", "running"]
    assert doc["has_stock"] is True and doc["total_stock"] == 7 and doc["version"] == 3
    assert doc["created_at"] == CREATED
    assert "published_at" not in doc and "meta_title" not in doc  # NULLs are left out
    assert set(doc) <= schema_fields("product")


def test_product_values_accepts_json_text_and_empty_collections() -> None:
    doc = product_values(product_row(prices='{"USD": {"min": 5, "max": 5.0}}',
                                       categories="[]", category_ids=[], tags=[]),
                           ("USD",))
    assert doc["price_min_usd"] == 5 and doc["price_max_usd"] == 5
    assert doc["category_ids"] == [] and doc["tags"] == []


@pytest.mark.parametrize("amount", ["12", 1.5, None, True])
def test_bad_price_names_the_field(amount: Any) -> None:
    with pytest.raises(ValidationFailed) as err:
        product_values(product_row(prices={"EUR": {"min": amount, "max": 10}}), CURRENCIES)
    assert err.value.field == "index_products.prices.EUR.min"


def test_content_values_maps_every_column() -> None:
    row = content_row()
    doc = content_values(row)
    assert doc["id"] == str(row["node_id"]) and doc["kind"] == "post"
    assert doc["author_id"] == str(row["author_id"]) and doc["author_name"] == "Ada"
    assert doc["published_at"] == datetime(2024, 5, 2, 12, 0, tzinfo=UTC)
    assert doc["reply_count"] == 2 and doc["tags"] == ["news"]
    assert "category_id" not in doc and "parent_id" not in doc
    assert set(doc) <= schema_fields("content")


def test_naive_timestamps_are_taken_as_utc() -> None:
    doc = content_values(content_row(created_at=datetime(2024, 1, 1, 8, 0)))
    assert doc["created_at"] == datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
    with pytest.raises(ValidationFailed):
        content_values(content_row(created_at="yesterday"))


# ---- index rows as Meilisearch documents --------------------------------------------------
def _product_row(**over: Any) -> dict[str, Any]:
    row = {
        "product_id": uuid.uuid4(), "tenant_id": TENANT, "title": "  Leather Boots",
        "subtitle": None, "handle": "boots", "description": "Sturdy", "status": "published",
        "prices": {"EUR": {"min": 8900, "max": 9900}, "XAF": {"min": 1, "max": 2}},
        "currencies": ["XAF", "EUR"], "total_stock": 3, "has_stock": True,
        "categories": '[{"name": "Shoes", "handle": "shoes"}]', "category_ids": [uuid.uuid4()],
        "tags": ["new"], "tag_ids": [], "meta_title": None, "meta_description": "Boots!",
        "created_at": datetime(2024, 1, 2, 12, 0, 0, 123456, tzinfo=UTC), "published_at": None,
        "version": 7,
    }
    row.update(over)
    return row


def test_a_product_document_carries_the_hit_document_and_engine_fields() -> None:
    row = _product_row()
    doc = meili_document("product", row, CURRENCIES)
    for key, value in ProductDoc.from_row(row)._asdict().items():
        if value is not None:
            assert doc[key] == value
    assert "published_at" not in doc and "subtitle" not in doc  # absent, not null
    assert (doc["price_min_eur"], doc["price_max_eur"]) == (8900, 9900)
    assert "price_min_xaf" not in doc  # not a configured currency: no fields
    assert doc["title_sort"] == "leather boots"
    assert doc["created_at_us"] == micros(row["created_at"]) == 1704196800123456
    assert doc["category_names"] == ["Shoes"] and doc["version"] == 7
    assert doc["in_stock"] == (1 if row["has_stock"] else 0)  # sortable: a number
    assert meili_document("product", {**row, "has_stock": False}, CURRENCIES)["in_stock"] == 0
    with pytest.raises(ValidationFailed, match="version"):
        meili_document("product", _product_row(version=None), CURRENCIES)


def test_card_fields_are_the_same_from_rows_tantivy_and_meilisearch() -> None:
    """Thumbnail, categories with names and handles, SKUs and option values: what a product
    card renders, read back alike from every backend's copy of one index row."""
    pid = uuid.uuid4()
    row = {"product_id": pid, "tenant_id": uuid.uuid4(), "title": "Boots", "subtitle": None,
           "handle": "boots", "description": None, "status": "published", "prices": {},
           "currencies": [], "has_stock": False, "total_stock": 0, "category_ids": [CAT],
           "categories": f'[{{"id": "{CAT}", "name": "Shoes", "handle": "shoes"}}]',
           "tags": [], "tag_ids": [], "created_at": datetime(2024, 1, 2, tzinfo=UTC),
           "published_at": None, "version": 1, "thumbnail": "https://img.example/b.jpg",
           "skus": ["B-1", "B-2"],
           "options": '[{"option": "Colour", "values": ["red", "navy"]}]',
           "option_values": ["Colour:red", "Colour:navy"], "identifiers": ["b-1", "b-2", "boots"]}
    doc = ProductDoc.from_row(row)._asdict()
    assert doc["thumbnail"] == "https://img.example/b.jpg"
    assert doc["categories"] == [{"id": str(CAT), "name": "Shoes", "handle": "shoes"}]
    assert doc["skus"] == ["B-1", "B-2"]
    assert doc["options"] == [{"option": "Colour", "values": ["red", "navy"]}]
    values = tantivy_values("product", row, ("EUR",))
    assert values["identifiers"] == ["b-1", "b-2", "boots"]
    assert values["option_values"] == ["Colour:red", "Colour:navy"]
    assert values["option_words"] == ["red", "navy"]
    stored = {name: value if isinstance(value, list) else [value]
              for name, value in values.items()
              if name not in ("identifiers", "option_values", "option_words", "tags_text")}
    assert ProductDoc.from_tantivy(stored, ("EUR",))._asdict() == doc
    meili = meili_document("product", row, ("EUR",))
    assert meili["identifiers"] == ["b-1", "b-2", "boots"]
    assert meili["option_values"] == ["Colour:red", "Colour:navy"]
    assert ProductDoc.from_meili(meili)._asdict() == doc
    bare = {k: v for k, v in row.items()
            if k not in ("thumbnail", "skus", "options", "option_values", "identifiers")}
    empty = ProductDoc.from_row(bare)
    assert (empty.thumbnail, empty.skus, empty.options) == (None, [], [])
