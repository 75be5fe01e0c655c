"""Tantivy schemas, row → document mapping, query building and config checks (no I/O: the
indexes here live in memory)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import tantivy
from pydantic import ValidationError

from core_write.errors import ValidationFailed
from indexer.tantivy.config import TantivyConfig, commit_channel, commit_counter_key
from indexer.tantivy.query import tenant_scoped
from indexer.tantivy.schema import (
    build_schema,
    content_document,
    field_specs,
    product_document,
    stored_values,
)
from search_api.compile_tantivy import clauses, scoped
from search_api.errors import from_validation
from search_api.model import SearchQuery, SearchScope

TENANT = uuid.UUID("01890000-0000-7000-8000-000000000001")
OTHER = uuid.UUID("01890000-0000-7000-8000-000000000002")
CREATED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def product_row(**overrides: Any) -> dict[str, Any]:
    cat = uuid.uuid4()
    row: dict[str, Any] = {
        "product_id": uuid.uuid4(), "tenant_id": TENANT, "title": "  Red Running Shoe ",
        "subtitle": "Light and fast", "handle": "red-running-shoe",
        "description": "A shoe for running", "status": "published",
        "prices": {"EUR": {"min": 1999, "max": 2499}, "XTS": {"min": 1, "max": 2}},
        "currencies": ["EUR", "XTS"], "total_stock": 7, "has_stock": True,
        "categories": [{"id": str(cat), "name": "Shoes", "handle": "shoes"}],
        "category_ids": [cat], "tags": ["sale", "running"], "tag_ids": [uuid.uuid4()],
        "meta_title": None, "meta_description": "Buy it", "search_vector": None,
        "created_at": CREATED, "published_at": None, "version": 3, "position": 10,
        "indexed_at": CREATED,
    }
    row.update(overrides)
    return row


def content_row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "node_id": uuid.uuid4(), "tenant_id": TENANT, "kind": "post", "title": "Hello World",
        "slug": "hello-world", "excerpt": "First post", "body_preview": "Lorem ipsum",
        "status": "published", "author_id": uuid.uuid4(), "author_name": "Ada",
        "category_id": None, "category_name": None, "category_slug": None,
        "tags": ["news"], "tag_ids": [uuid.uuid4()], "parent_id": None, "reply_count": 2,
        "meta_title": None, "meta_description": None, "search_vector": None,
        "published_at": datetime(2024, 5, 2, 14, 0, tzinfo=timezone(timedelta(hours=2))),
        "created_at": CREATED, "version": 1, "position": 1, "indexed_at": CREATED,
    }
    row.update(overrides)
    return row


def schema_fields(doc_type: Any, currencies: tuple[str, ...] = ("EUR", "USD")) -> set[str]:
    return {spec.name for spec in field_specs(doc_type, currencies)}


def test_product_document_maps_every_column() -> None:
    row = product_row()
    doc = product_document(row, ("EUR", "USD"))
    assert doc["id"] == str(row["product_id"]) and doc["tenant_id"] == str(TENANT)
    assert doc["title"] == "  Red Running Shoe " and doc["title_sort"] == "red running shoe"
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


def test_product_document_accepts_json_text_and_empty_collections() -> None:
    doc = product_document(product_row(prices='{"USD": {"min": 5, "max": 5.0}}',
                                       categories="[]", category_ids=[], tags=[]),
                           ("USD",))
    assert doc["price_min_usd"] == 5 and doc["price_max_usd"] == 5
    assert doc["category_ids"] == [] and doc["tags"] == []


@pytest.mark.parametrize("amount", ["12", 1.5, None, True])
def test_bad_price_names_the_field(amount: Any) -> None:
    with pytest.raises(ValidationFailed) as err:
        product_document(product_row(prices={"EUR": {"min": amount, "max": 10}}))
    assert err.value.field == "index_products.prices.EUR.min"


def test_content_document_maps_every_column() -> None:
    row = content_row()
    doc = content_document(row)
    assert doc["id"] == str(row["node_id"]) and doc["kind"] == "post"
    assert doc["author_id"] == str(row["author_id"]) and doc["author_name"] == "Ada"
    assert doc["published_at"] == datetime(2024, 5, 2, 12, 0, tzinfo=UTC)
    assert doc["reply_count"] == 2 and doc["tags"] == ["news"]
    assert "category_id" not in doc and "parent_id" not in doc
    assert set(doc) <= schema_fields("content")


def test_naive_timestamps_are_taken_as_utc() -> None:
    doc = content_document(content_row(created_at=datetime(2024, 1, 1, 8, 0)))
    assert doc["created_at"] == datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
    with pytest.raises(ValidationFailed):
        content_document(content_row(created_at="yesterday"))


def test_documents_index_and_round_trip_in_memory() -> None:
    index = tantivy.Index(build_schema("product", ("EUR",)))
    writer = index.writer(heap_size=20_000_000, num_threads=1)
    row = product_row(published_at=CREATED)
    writer.add_document(tantivy.Document(**product_document(row, ("EUR",))))
    writer.commit()
    index.reload()
    searcher = index.searcher()
    query = SearchQuery.model_validate({"q": '"running shoe"', "filter": {
        "price": {"currency": "EUR", "min": 1000}}})
    scope = SearchScope(tenant_id=TENANT)
    hits = searcher.search(scoped(index.schema, scope, clauses(index, query, scope, ("EUR",))),
                           5).hits
    assert len(hits) == 1
    stored = stored_values("product", searcher.doc(hits[0][1]).to_dict())
    assert stored["id"] == str(row["product_id"]) and stored["price_max_eur"] == 2499
    assert stored["tags"] == ["sale", "running"] and stored["category_names"] == ["Shoes"]
    assert stored["tag_ids"] == [str(row["tag_ids"][0])]
    assert "tags_text" not in stored and "title_sort" not in stored  # indexed only


def test_stored_values_keeps_lists_for_multi_valued_fields() -> None:
    flat = stored_values("content", {"id": ["x"], "tags": ["a"], "version": [2]})
    assert flat == {"id": "x", "tags": ["a"], "version": 2, "tag_ids": []}


def test_tenant_scope_is_required() -> None:
    schema = build_schema("content")
    for tenant in (None, "", "  "):
        with pytest.raises(ValidationFailed) as err:
            tenant_scoped(schema, tenant, tantivy.Query.all_query())
        assert err.value.field == "tenant_id"


@pytest.mark.parametrize("filters, field", [
    ({"tenant_id": str(OTHER)}, "tenant_id"),
    ({"title": "x"}, "title"),
    ({"nope": 1}, "nope"),
    ({"has_stock": "maybe"}, "has_stock"),
    ({"total_stock": True}, "total_stock"),
    ({"price": {"currency": "EUR", "min": 1, "gt": 2}}, "price.gt"),
    ({"price": {"currency": "EUR", "min": 2, "max": 1}}, "price"),
    ({"status": {"gte": "a"}}, "status"),
    ({"tags": "sale"}, "tags"),
])
def test_bad_filters_name_the_field(filters: dict[str, Any], field: str) -> None:
    # the query model every backend compiles refuses them before a Tantivy query is built
    with pytest.raises(ValidationError) as err:
        SearchQuery.model_validate({"filter": filters})
    assert {e["field"] for e in from_validation(err.value).errors} == {field}


def test_config_checks_name_the_field() -> None:
    assert TantivyConfig().commit_interval == 0.05
    cases: list[tuple[dict[str, Any], str]] = [({"writer_heap_mb": 1}, "tantivy.writer_heap_mb"),
                          ({"currencies": ("EUR", "eur")}, "tantivy.currencies"),
                          ({"currencies": ("EUR", "EUR")}, "tantivy.currencies"),
                          ({"commit_interval_ms": 0}, "tantivy.commit_interval_ms"),
                          ({"index_dir": " "}, "tantivy.index_dir")]
    for kwargs, field in cases:
        with pytest.raises(ValidationFailed) as err:
            TantivyConfig(**kwargs)
        assert err.value.field == field


def test_redis_names_share_the_stream_prefix() -> None:
    assert commit_counter_key("p", "product") == "p:tantivy:product:commits"
    assert commit_channel("p") == "p:tantivy:commits"
