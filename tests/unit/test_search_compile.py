"""The pure parts of the search backends: SQL compilation (tenant from the scope, drafts,
fuzzy branch, disjunctive facets, user text only as parameters), facet folding, Tantivy
aggregation requests and results, and the <mark> helpers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from core_write.errors import ValidationFailed
from indexer.model.text import price_field_pair
from search_api.backends.highlight import mark_prefixes, mark_ranges, marked_headline
from search_api.backends.postgres import facet_counts
from search_api.compile_pg import compile_count, compile_hits, compile_suggest
from search_api.compile_tantivy import facet_aggregation, facet_values
from search_api.model import SearchQuery
from search_api.pg_facets import compile_facets, compile_price_stats
from search_api.scope import SearchScope

TENANT = uuid.UUID("01900000-0000-7000-8000-00000000000a")
CAT = uuid.UUID("01900000-0000-7000-8000-0000000000c1")
SCOPE = SearchScope(tenant_id=TENANT)


def q(**kw: Any) -> SearchQuery:
    return SearchQuery.model_validate(kw)


def test_the_tenant_comes_from_the_scope_and_only_published_by_default() -> None:
    compiled = compile_hits(q(), SCOPE)
    assert compiled.params[0] == TENANT and "tenant_id = $1" in compiled.sql
    assert ["published"] in compiled.params
    drafts = compile_hits(q(), SearchScope(tenant_id=TENANT, include_drafts=True))
    assert "status" not in drafts.sql.split("WHERE")[1].split("ORDER")[0]
    chosen = compile_hits(q(filter={"status": ["draft"]}),
                          SearchScope(tenant_id=TENANT, include_drafts=True))
    assert ["draft"] in chosen.params
    ignored = compile_hits(q(filter={"status": ["draft"]}), SCOPE)
    assert ["draft"] not in ignored.params and ["published"] in ignored.params


def test_in_stock_first_is_the_first_order_key_of_products() -> None:
    stock = SearchScope(tenant_id=TENANT, in_stock_first=True)

    def order(query: SearchQuery, scope: SearchScope) -> str:
        return compile_hits(query, scope).sql.rsplit("ORDER BY ", 1)[1]

    assert order(q(q="boots"), stock).startswith(
        "has_stock DESC, ident DESC, rank DESC, product_id")
    assert order(q(sort="price:asc", currency="EUR"), stock).startswith(
        "has_stock DESC, (prices->")
    assert order(q(q="boots", highlight=True), stock).startswith(
        "has_stock DESC, ident DESC, rank DESC")
    assert order(q(q="boots"), SCOPE).startswith("ident DESC, rank DESC")  # the setting off
    assert "has_stock" not in order(q(doc_type="content", q="guide"), stock)


def test_user_text_travels_only_as_parameters() -> None:
    text = "'; DROP TABLE index_products; --"
    compiled = compile_hits(q(q=text, highlight=True), SCOPE)
    assert "DROP" not in compiled.sql and ["drop", "table", "index", "products"] in compiled.params
    assert compiled.sql.count("$") >= len(compiled.params)


def test_the_words_carry_their_typo_budgets_and_the_last_one_is_a_prefix() -> None:
    compiled = compile_hits(q(q="Red, LEATHR boots-elegantly"), SCOPE)
    assert "rustok_text_query($1, 'product'" in compiled.sql
    assert ["red", "leathr", "boots", "elegantly"] in compiled.params
    assert [0, 1, 1, 2] in compiled.params
    assert compiled.params[compiled.params.index([0, 1, 1, 2]) + 1] is True  # prefix
    typed = compile_hits(q(q="red leather "), SCOPE)  # a space after the last word: no prefix
    assert typed.params[typed.params.index([0, 1]) + 1] is False
    assert ["foo", "bar"] in compile_hits(q(q="foo_bar"), SCOPE).params
    # the text CTE comes first and every clause reads it once (InitPlans)
    assert compiled.sql.startswith("WITH tq AS MATERIALIZED")
    assert "search_vector @@ (SELECT match FROM tq)" in compiled.sql
    assert "WITH" not in compile_hits(q(), SCOPE).sql


def test_the_score_orders_typos_then_fields_then_prefix_then_rank() -> None:
    sql = compile_hits(q(q="red leathr"), SCOPE).sql
    # two words: a tier step of 2 * 2 + 2 = 6 (typos count 36, fields 6); only leathr has a
    # typo budget; a word's field is the best among its stems of the fewest typos
    assert ("WHEN search_vector @@ (SELECT near_title[1] FROM tq) THEN 0 "
            "WHEN search_vector @@ (SELECT near_related[1] FROM tq) THEN 6 ELSE 12 END") in sql
    assert "one_title[1]" not in sql
    assert ("WHEN search_vector @@ (SELECT one_title[2] FROM tq) THEN 36 "
            "WHEN search_vector @@ (SELECT one_related[2] FROM tq) THEN 42") in sql
    assert "(SELECT whole[2] FROM tq)" in sql  # the prefix step
    assert "ts_rank_cd(search_vector, (SELECT match FROM tq))" in sql
    assert "whole[" not in compile_hits(q(q="red leathr "), SCOPE).sql


def test_sorts_end_with_the_id_and_missing_values_last() -> None:
    sql = compile_hits(q(sort="price:desc", currency="EUR"), SCOPE).sql
    assert "DESC NULLS LAST, product_id LIMIT" in sql
    assert "rank DESC, node_id" in compile_hits(q(doc_type="content"), SCOPE).sql


def test_a_facet_is_counted_without_its_own_filter() -> None:
    query = q(filter={"categories": [str(CAT)], "tags": ["sale"]},
              facets=["categories", "tags", "has_stock"])
    compiled = compile_facets(query, SCOPE)
    assert compiled is not None
    categories, tags, stock = compiled.sql.split(" UNION ALL ")
    assert "category_ids &&" not in categories and "tags &&" in categories
    assert "tags &&" not in tags and "category_ids &&" in tags
    assert "tags &&" in stock and "category_ids &&" in stock
    assert compile_facets(q(), SCOPE) is None


def test_count_and_price_stats() -> None:
    assert compile_count(q(q="x"), SCOPE).sql.startswith("WITH tq AS")
    assert compile_count(q(), SCOPE).sql.startswith("SELECT count(*) FROM index_products")
    assert compile_price_stats(q(), SCOPE) is None
    stats = compile_price_stats(
        q(currency="EUR", filter={"price": {"currency": "EUR", "min": 5}}), SCOPE)
    assert stats is not None and 5 not in stats.params  # the price filter is left out


def test_suggest_matches_titles_as_search_does() -> None:
    assert compile_suggest("product", " !! ", SCOPE, 5) is None
    compiled = compile_suggest("product", "leather wa", SCOPE, 5)
    assert compiled is not None and ["leather", "wa"] in compiled.params
    assert "search_vector @@ (SELECT title_match FROM tq)" in compiled.sql
    assert "ts_rank_cd" not in compiled.sql and "title[" not in compiled.sql
    typo = compile_suggest("content", "lether", SCOPE, 5)
    assert typo is not None and "'content'" in typo.sql and "index_content" in typo.sql


def test_price_rows_fold_into_bucket_labels() -> None:
    query = q(currency="EUR", facets=["price", "tags"])
    rows = [("price", "500", 2), ("price", "999", 1), ("price", "1000", 4),
            ("price", "60000", 1), ("tags", "sale", 3)]
    assert facet_counts(query, rows) == {
        "price": {"0-1000": 3, "1000-2500": 4, "50000+": 1}, "tags": {"sale": 3}}
    assert facet_counts(q(facets=["tags"]), []) == {"tags": {}}


def test_tantivy_aggregations_match_the_bucket_labels() -> None:
    query = q(currency="EUR", facets=["price"], price_buckets=(100, 200))
    request = facet_aggregation(query, "price", ("EUR",))
    assert request == {"range": {"field": "price_min_eur", "ranges": [
        {"to": 100}, {"from": 100, "to": 200}, {"from": 200}]}}
    result = {"buckets": [{"doc_count": 1}, {"doc_count": 0}, {"doc_count": 2}]}
    assert facet_values(query, "price", result) == {"0-100": 1, "200+": 2}
    terms = {"buckets": [{"key": 1, "key_as_string": "true", "doc_count": 3},
                         {"key": "x", "doc_count": 0}]}
    assert facet_values(query, "has_stock", terms) == {"true": 3}
    with pytest.raises(ValidationFailed) as err:
        price_field_pair("GBP", ("EUR",), "currency")
    assert err.value.field == "currency"


def test_marks_escape_html() -> None:
    assert mark_ranges("a <b> leather", [(6, 13)]) == "a &lt;b&gt; <mark>leather</mark>"
    assert mark_prefixes("Leather wallet & co", ["leat", "w"]) == (
        "<mark>Leat</mark>her <mark>w</mark>allet &amp; co")
    assert marked_headline("\u27e6Red\u27e7 <i>") == "<mark>Red</mark> &lt;i&gt;"


def test_identifiers_match_the_whole_query_lowercased_and_rank_first() -> None:
    compiled = compile_hits(q(q="  T0-P0000006-0 "), SCOPE)
    assert "t0-p0000006-0" in compiled.params and "T0-P0000006-0" not in compiled.sql
    assert "identifiers @> ARRAY[" in compiled.sql
    assert "ORDER BY ident DESC, rank DESC, product_id" in compiled.sql
    sorted_ = compile_hits(q(q="x", sort="title:asc"), SCOPE)
    assert "ident DESC" not in sorted_.sql  # explicit sorts: the sort key decides
    content = compile_hits(q(doc_type="content", q="Care-101"), SCOPE)
    assert "lower(slug) = " in content.sql and "care-101" in content.params
    assert "identifiers" not in compile_hits(q(), SCOPE).sql


def test_option_filters_are_any_value_within_an_option_and_every_option() -> None:
    compiled = compile_count(q(filter={"options": ["Colour:red", "Size:M", "Colour:navy"]}),
                             SCOPE)
    assert compiled.sql.count("option_values && ") == 2
    assert ["Colour:red", "Colour:navy"] in compiled.params and ["Size:M"] in compiled.params
    with pytest.raises(ValueError):
        q(filter={"options": ["red"]})  # a value without its option's name
    facets = compile_facets(q(filter={"options": ["Colour:red"]}, facets=["options"]), SCOPE)
    assert facets is not None and "option_values &&" not in facets.sql  # its own filter


def test_a_merchandising_tier_counts_a_missing_field_as_not_matching() -> None:
    from search_api.filters import FilterTest, ProductFilter

    tier = ((FilterTest(filters=(ProductFilter(categories=[CAT]),), negate=True),
             FilterTest(filters=(ProductFilter(tags=["new"]),))),)
    compiled = compile_hits(SearchQuery(), SearchScope(tenant_id=TENANT, tier=tier))
    assert "((category_ids && $" in compiled.sql and ") IS NOT TRUE OR (" in compiled.sql
    assert str(CAT) not in compiled.sql and [CAT] in compiled.params and ["new"] in compiled.params
    # the facets are counted inside the tier too
    facets = compile_facets(SearchQuery(facets=["tags"]), SearchScope(tenant_id=TENANT,
                                                                     tier=tier))
    assert facets is not None and "IS NOT TRUE" in facets.sql
