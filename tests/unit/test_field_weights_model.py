"""Per-field weights without a database: the stored letters, the defaults every builder falls
back to (the SQL's included), the Tantivy tier fields and the Meilisearch attribute order a
tenant's tiers give."""

from __future__ import annotations

from pathlib import Path

from indexer.meili.documents import SEARCHABLE, index_settings
from indexer.model.engines import content_values, product_values
from indexer.model.relevance import (
    DEFAULT_LETTERS,
    FIELDS,
    FieldWeights,
    ProductWeights,
    SearchSettings,
    field_tiers,
)
from tests.index_rows import content_row, product_row

SQL = (Path(__file__).resolve().parents[2] / "indexer/sql/documents.sql").read_text()


def test_the_defaults_are_stored_as_nothing_and_the_sql_falls_back_to_them() -> None:
    weights = FieldWeights()
    assert weights.letters("product") is None and weights.letters("content") is None
    assert DEFAULT_LETTERS == {"product": "ABBBBCC", "content": "ABBBCCC"}
    assert f"COALESCE(fw.product_weights, '{DEFAULT_LETTERS['product']}')" in SQL
    assert f"COALESCE(fw.content_weights, '{DEFAULT_LETTERS['content']}')" in SQL
    moved = FieldWeights.model_validate({"products": {"description": 1, "title": 3}})
    assert moved.letters("product") == "CBBBBAC" and moved.letters("content") is None
    assert field_tiers("product", "CBBBBAC")["description"] == 1
    assert tuple(field_tiers("content", None)) == FIELDS["content"]


def test_tantivy_puts_each_field_in_its_tier() -> None:
    row = product_row(title="Shell", description="Alpine layer", tags=["eco"])
    default = product_values(row, ["EUR"])
    assert default["tier1"] == "sshell" and "aalpine" not in default["tier2"]
    moved = product_values({**row, "field_weights": "CBABBAC"}, ["EUR"])
    # description and tags in tier 1, title in tier 3 (only in `words`)
    assert moved["tier1"].split() == ["eeco", "aalpine", "llayer"]
    assert "sshell" not in moved["tier1"] + moved["tier2"] and "sshell" in moved["words"]
    assert sorted(moved["words"].split()) == sorted(default["words"].split())
    node = content_row(title="Notes", body_preview="alpine trip")
    assert content_values({**node, "field_weights": "CBBBACC"})["tier1"] == "aalpine ttrip"


def test_meilisearch_orders_the_searchable_attributes_by_tier() -> None:
    weights = FieldWeights.model_validate({"products": {"description": 1, "meta": 2},
                                           "content": {"author": 1}})
    settings = SearchSettings(field_weights=weights)
    assert index_settings("product", ["EUR"], settings)["searchableAttributes"] == [
        "title", "description", "subtitle", "tags", "category_names", "options.values",
        "meta_title", "meta_description"]  # within a tier, the default order
    assert index_settings("content", ["EUR"], settings)["searchableAttributes"] == [
        "title", "author_name", "excerpt", "tags", "category_name", "body_preview",
        "meta_title", "meta_description"]
    for doc_type in ("product", "content"):
        assert index_settings(doc_type, ["EUR"])["searchableAttributes"] == SEARCHABLE[doc_type]


def test_a_tier_takes_json_integers_written_with_a_fraction_and_nothing_else() -> None:
    """JSON Schema's `integer` (the OpenAPI document) includes 2.0; strings, booleans and
    true fractions are still refused."""
    assert FieldWeights.model_validate({"products": {"title": 2.0}}).products.title == 2
    schema = ProductWeights.model_json_schema()["properties"]["title"]
    assert (schema["type"], schema["minimum"], schema["maximum"]) == ("integer", 1, 3)
    for bad in ("1", True, 1.5, 4, 0):
        try:
            FieldWeights.model_validate({"products": {"title": bad}})
        except ValueError as exc:
            assert "products.title" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")
