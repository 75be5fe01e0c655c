"""Tantivy schemas, query building and config checks (no I/O: the indexes here live in
memory)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import tantivy
from pydantic import ValidationError

from core_write.errors import ValidationFailed
from indexer.model.engines import product_values
from indexer.tantivy.config import TantivyConfig, commit_channel, commit_counter_key
from indexer.tantivy.query import tenant_scoped
from indexer.tantivy.schema import build_schema, stored_values
from search_api.compile_tantivy import clauses, scoped
from search_api.errors import from_validation
from search_api.model import SearchQuery
from search_api.scope import SearchScope
from tests.index_rows import CREATED, TENANT, product_row

OTHER = uuid.UUID("01890000-0000-7000-8000-000000000002")


def test_documents_index_and_round_trip_in_memory() -> None:
    index = tantivy.Index(build_schema("product", ("EUR",)))
    writer = index.writer(heap_size=20_000_000, num_threads=1)
    row = product_row(published_at=CREATED)
    writer.add_document(tantivy.Document(**product_values(row, ("EUR",))))
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
