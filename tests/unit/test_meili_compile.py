"""The Meilisearch query compiler, index settings and response mapping (pure: no server;
its documents are tested in test_document_model.py). Filter strings are checked with a
tokenizer that reads string literals the way Meilisearch does (double quotes, backslash
escapes), so a user value can be shown to stay one literal whatever it contains."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core_write.errors import ValidationFailed
from core_write.settings import Settings, SettingsError, load_settings
from indexer.meili.config import NEXT, index_uid, parse_uid
from indexer.meili.documents import MAX_FACET_VALUES, index_settings, settings_drift
from indexer.model.engines import micros
from indexer.model.text import TYPO_ONE_MIN, TYPO_TWO_MIN
from search_api.compile_meili import followup, plan, result, suggest_params
from search_api.facets import bucket_label
from search_api.meili_facets import bucket_ranges
from search_api.meili_filters import any_of, quote
from search_api.meili_ranking import sort_spec
from search_api.meili_requests import Plan, Request
from search_api.model import SearchQuery
from search_api.scope import SearchScope

TENANT = uuid.UUID("0190f0a0-0000-7000-8000-000000000001")
SCOPE = SearchScope(tenant_id=TENANT)
CURRENCIES = ("EUR", "USD")


def tokenize(expression: str) -> tuple[str, list[str]]:
    """(the expression with every string literal replaced by `?`, the literals' values)."""
    skeleton, literals, i = [], [], 0
    while i < len(expression):
        char = expression[i]
        if char != '"':
            skeleton.append(char)
            i += 1
            continue
        value, i = [], i + 1
        while expression[i] != '"':
            if expression[i] == "\\":
                i += 1
            value.append(expression[i])
            i += 1
        literals.append("".join(value))
        skeleton.append("?")
        i += 1
    return "".join(skeleton), literals


def _main(query: SearchQuery, scope: SearchScope = SCOPE) -> dict[str, Any]:
    return plan(query, scope, "shop", CURRENCIES).requests[0].params


# ---- filter strings ----------------------------------------------------------------------
def test_quote_escapes_backslashes_and_quotes() -> None:
    assert quote('a"b\\c') == '"a\\"b\\\\c"'
    assert quote("") == '""'
    assert tokenize(quote('x\\" OR 1')) == ("?", ['x\\" OR 1'])


@pytest.mark.parametrize("value", [
    '" OR tenant_id = "other', 'sale" OR status = "draft', "\\", 'trailing\\', '"', "[]",
    "a) OR (b", "tags IN [x]", "\u27e6mark\u27e7",
])
def test_an_injection_attempt_stays_one_literal(value: str) -> None:
    query = SearchQuery.model_validate({"filter": {"tags": [value, "new"]}})
    skeleton, literals = tokenize(_main(query)["filter"])
    assert skeleton == "(status IN [?]) AND (tags IN [?, ?])"
    assert literals == ["published", value, "new"]


@given(st.lists(st.text(max_size=30), min_size=1, max_size=5))
def test_any_value_round_trips_through_a_literal(values: list[str]) -> None:
    skeleton, literals = tokenize(any_of("tags", values))
    assert skeleton == "tags IN [" + ", ".join("?" * len(values)) + "]"
    assert literals == values


def test_the_tenant_is_the_index_never_a_filter() -> None:
    other = SearchScope(tenant_id=uuid.uuid4())
    query = SearchQuery(q="boots", facets=["tags", "price"], currency="EUR",
                        filter={"tags": ["x"]})
    mine = plan(query, SCOPE, "shop", CURRENCIES)
    theirs = plan(query, other, "shop", CURRENCIES)
    assert {r.params["index_uid"] for r in mine.requests} == {f"shop_{TENANT.hex}_products"}
    assert {r.params["index_uid"] for r in theirs.requests} == {
        f"shop_{other.tenant_id.hex}_products"}
    assert all("tenant" not in (r.params.get("filter") or "") for r in mine.requests)


def test_drafts_and_statuses() -> None:
    draft = SearchQuery.model_validate({"filter": {"status": ["draft"]}})
    assert tokenize(_main(draft)["filter"]) == ("(status IN [?])", ["published"])
    admin = SearchScope(tenant_id=TENANT, include_drafts=True)
    assert tokenize(_main(draft, admin)["filter"]) == ("(status IN [?])", ["draft"])
    assert _main(SearchQuery(), admin)["filter"] is None


def test_price_filter_is_an_overlap_on_the_currency_fields() -> None:
    query = SearchQuery.model_validate(
        {"filter": {"price": {"currency": "EUR", "min": 2000, "max": 5000}}})
    assert _main(query)["filter"] == ('(status IN ["published"]) AND (price_min_eur EXISTS '
                                      'AND price_max_eur >= 2000 AND price_min_eur <= 5000)')
    unknown = SearchQuery.model_validate({"filter": {"price": {"currency": "XAF"}}})
    with pytest.raises(ValidationFailed, match="filter.price.currency"):
        _main(unknown)


def test_content_filters() -> None:
    author = uuid.uuid4()
    query = SearchQuery.model_validate({
        "doc_type": "content", "filter": {"kind": ["post"], "author": [str(author)],
                                          "published": {"gte": "2024-02-01T00:00:00Z"}}})
    skeleton, literals = tokenize(_main(query)["filter"])
    start = micros(datetime(2024, 2, 1, tzinfo=UTC))
    assert skeleton == ("(status IN [?]) AND (kind IN [?]) AND (author_id IN [?]) AND "
                        f"(published_at_us EXISTS AND published_at_us >= {start})")
    assert literals == ["published", "post", str(author)]


def test_has_stock_is_a_boolean_comparison() -> None:
    query = SearchQuery.model_validate({"filter": {"has_stock": False}})
    assert _main(query)["filter"].endswith("(has_stock = false)")


# ---- sort, pagination, highlight ----------------------------------------------------------
def test_sorts_break_ties_by_id() -> None:
    assert sort_spec(SearchQuery(), CURRENCIES) is None
    assert sort_spec(SearchQuery(sort="price:desc", currency="USD"), CURRENCIES) == [
        "price_min_usd:desc", "id:asc"]
    assert sort_spec(SearchQuery(sort="title:asc"), CURRENCIES) == ["title_sort:asc", "id:asc"]
    assert sort_spec(SearchQuery(doc_type="content", sort="published_at:desc"),
                     CURRENCIES) == ["published_at_us:desc", "id:asc"]
    with pytest.raises(ValidationFailed, match="currency"):
        sort_spec(SearchQuery(sort="price:asc", currency="XAF"), CURRENCIES)


def test_in_stock_first_is_the_first_sort_key_of_products() -> None:
    stock = SearchScope(tenant_id=TENANT, in_stock_first=True)
    assert sort_spec(SearchQuery(), CURRENCIES, stock) == ["in_stock:desc"]
    assert sort_spec(SearchQuery(sort="price:asc", currency="EUR"), CURRENCIES, stock) == [
        "in_stock:desc", "price_min_eur:asc", "id:asc"]
    assert sort_spec(SearchQuery(doc_type="content"), CURRENCIES, stock) is None
    assert sort_spec(SearchQuery(sort="title:asc"), CURRENCIES, SCOPE) == [
        "title_sort:asc", "id:asc"]  # the setting off: the explicit sort alone
    assert _main(SearchQuery(q="boots"), stock)["sort"] == ["in_stock:desc"]
    assert _main(SearchQuery(q="boots"))["sort"] is None
    assert "in_stock" in index_settings("product", CURRENCIES)["sortableAttributes"]


def test_pages_are_exact_and_highlights_use_private_delimiters() -> None:
    main = _main(SearchQuery(q="boots", page=3, per_page=7, highlight=True))
    assert (main["page"], main["hits_per_page"], main["matching_strategy"]) == (3, 7, "all")
    assert main["attributes_to_highlight"] == ["title", "description"]
    assert main["highlight_pre_tag"] == "\u27e6"
    assert "attributes_to_highlight" not in _main(SearchQuery(q="boots"))


# ---- facets -------------------------------------------------------------------------------
def _text_searches(built: Plan) -> list[Request]:
    """The queries that run the text search (the identifier lookup does not: a filter)."""
    return [r for r in built.requests if r.role != "identified"]


def test_a_facet_ignores_its_own_filter_in_its_own_query() -> None:
    query = SearchQuery.model_validate({
        "filter": {"tags": ["sale"], "has_stock": True},
        "facets": ["tags", "categories", "has_stock", "price"], "currency": "EUR"})
    requests = _text_searches(plan(query, SCOPE, "shop", CURRENCIES))
    assert [r.role for r in requests] == ["main", "count", "count"]
    main = requests[0]
    # no price filter: the price stats and buckets are counted under the page's filter
    assert (main.facets, main.price) == (("categories",), ("price_min_eur", "price_max_eur"))
    assert main.params["facets"] == ["category_ids", "price_min_eur", "price_max_eur"]
    counts = {r.facets: r for r in requests[1:]}
    assert "tags IN" not in counts[("tags",)].params["filter"]
    assert "has_stock" in counts[("tags",)].params["filter"]
    assert "has_stock" not in counts[("has_stock",)].params["filter"]
    assert all(r.params["page"] == 0 and r.price is None for r in requests[1:])  # counts only


def test_facets_counted_under_the_same_filter_share_one_query() -> None:
    no_filter = SearchQuery(q="boots", facets=["tags", "categories", "has_stock", "price"],
                            currency="EUR")
    requests = _text_searches(plan(no_filter, SCOPE, "shop", CURRENCIES))
    assert len(requests) == 1 and requests[0].facets == ("tags", "categories", "has_stock")
    assert requests[0].params["facets"] == ["tags", "category_ids", "has_stock",
                                            "price_min_eur", "price_max_eur"]
    # a filter no requested facet ignores keeps everything in the page's query
    in_stock = SearchQuery.model_validate({"q": "boots", "filter": {"has_stock": True},
                                           "facets": ["tags", "price"], "currency": "EUR"})
    assert len(_text_searches(plan(in_stock, SCOPE, "shop", CURRENCIES))) == 1
    # a price filter: stats and buckets without it, in their own counting query
    priced = SearchQuery.model_validate({
        "q": "boots", "filter": {"price": {"currency": "EUR", "max": 5000}},
        "facets": ["tags", "price"]})
    main, count = _text_searches(plan(priced, SCOPE, "shop", CURRENCIES))
    assert (main.facets, main.price) == (("tags",), None)
    assert count.price == ("price_min_eur", "price_max_eur") and count.facets == ()
    assert count.params["filter"] == '(status IN ["published"])'
    assert count.params["facets"] == ["price_min_eur", "price_max_eur"]
    # stats without the price facet; no price fields without a currency
    stats = plan(SearchQuery(sort="price:asc", currency="USD"), SCOPE, "shop", CURRENCIES)
    assert stats.requests[0].params["facets"] == ["price_min_usd", "price_max_usd"]
    assert plan(SearchQuery(q="x"), SCOPE, "shop", CURRENCIES).requests[0].params[
        "facets"] is None
    with pytest.raises(ValidationFailed, match="currency"):
        plan(SearchQuery(facets=["price"], currency="XAF"), SCOPE, "shop", CURRENCIES)


def test_price_buckets_sum_the_distinct_prices_and_fall_back_when_cut() -> None:
    query = SearchQuery(q="hat", facets=["price"], currency="EUR", sort="price:asc",
                        price_buckets=(1000, 5000))  # sorted: no identifier lookup
    built = plan(query, SCOPE, "shop", CURRENCIES)
    response = {"totalHits": 6, "hits": [], "facetDistribution": {
        "price_min_eur": {"999": 1, "1000": 2, "4999.5": 1, "70000": 2},
        "price_max_eur": {"1200": 3, "80000": 3}},
        "facetStats": {"price_min_eur": {"min": 999, "max": 70000},
                       "price_max_eur": {"min": 1200, "max": 80000}}}
    assert followup(built, [response]) == []
    got = result(built, [response], "meilisearch")
    assert got.facets["price"] == {"0-1000": 1, "1000-5000": 3, "5000+": 2}
    assert list(got.facets["price"]) == ["0-1000", "1000-5000", "5000+"]
    assert got.facet_stats["price"].model_dump() == {"min": 999, "max": 80000}
    # as many distinct prices as Meilisearch counts: the distribution may be cut
    cut = {**response, "facetDistribution": {
        "price_min_eur": {str(n): 1 for n in range(MAX_FACET_VALUES)}}}
    extra = followup(built, [cut])
    assert [r.bucket for r in extra] == ["0-1000", "1000-5000", "5000+"]
    assert tokenize(extra[1].params["filter"]) == (
        "((status IN [?])) AND (price_min_eur >= 1000 AND price_min_eur < 5000)",
        ["published"])
    assert extra[0].params["filter"].endswith("(price_min_eur EXISTS AND price_min_eur < 1000)")
    assert all(r.params["page"] == 0 for r in extra)
    counts = [{"totalHits": n, "hits": []} for n in (0, 7, 11)]
    wide = result(Plan(query, built.uid, [*built.requests, *extra]), [cut, *counts],
                  "meilisearch")
    assert wide.facets["price"] == {"1000-5000": 7, "5000+": 11}
    assert followup(plan(SearchQuery(q="hat", currency="EUR", sort="price:asc"), SCOPE,
                         "shop", CURRENCIES), [cut]) == []  # stats only: never cut


def test_bucket_ranges_match_the_labels_of_the_model() -> None:
    ranges = bucket_ranges((10, 20))
    assert ranges == [("0-10", None, 10), ("10-20", 10, 20), ("20+", 20, None)]
    for label, low, _high in ranges:
        assert label == bucket_label((10, 20), low or 0)


def test_responses_map_to_the_common_result() -> None:
    query = SearchQuery.model_validate({
        "q": "leather", "highlight": True, "filter": {"tags": ["sale"]},
        "facets": ["tags", "has_stock", "price"], "currency": "EUR",
        "price_buckets": [1000, 5000]})
    built: Plan = plan(query, SCOPE, "shop", CURRENCIES)
    doc_id = uuid.uuid4()
    responses: list[dict[str, Any]] = []
    for request in built.requests:
        if request.role == "main":
            responses.append({"totalHits": 41, "hits": [{
                "id": str(doc_id), "title": "Leather <b>", "status": "published",
                "_rankingScore": 0.9, "tags": ["sale"],
                "_formatted": {"title": "\u27e6Leather\u27e7 <b>",
                               "description": "no match here"}}],
                "facetDistribution": {"has_stock": {"true": 30, "false": 11},
                                      "price_min_eur": {"1200": 12, "5000": 29}},
                "facetStats": {"price_min_eur": {"min": 1200, "max": 9000},
                               "price_max_eur": {"min": 1500, "max": 12000}}})
        else:
            responses.append({"totalHits": 0, "hits": [],
                              "facetDistribution": {"tags": {"sale": 41, "new": 3, "x": 0}}})
    got = result(built, responses, "meilisearch")
    assert got.total == 41 and got.backend == "meilisearch"
    assert got.facets == {"tags": {"sale": 41, "new": 3}, "has_stock": {"true": 30, "false": 11},
                          "price": {"1000-5000": 12, "5000+": 29}}
    assert got.facet_stats["price"].model_dump() == {"min": 1200, "max": 12000}
    hit = got.hits[0]
    assert hit.id == doc_id and hit.score == 0.9
    assert hit.highlights == {"title": "<mark>Leather</mark> &lt;b&gt;"}
    assert hit.document["prices"] == {} and hit.document["category_ids"] == []
    assert hit.document["has_stock"] is False and hit.document["total_stock"] == 0


def test_suggestions_search_titles_of_published_documents() -> None:
    params = suggest_params("product", "shop", SCOPE, "leat", 5)
    assert params["attributes_to_search_on"] == ["title"]
    assert tokenize(params["filter"]) == ("status IN [?]", ["published"])
    admin = SearchScope(tenant_id=TENANT, include_drafts=True)
    assert suggest_params("content", "shop", admin, "x", 5)["filter"] is None


# ---- index settings ---------------------------------------------------------------------
def test_index_settings_and_their_drift() -> None:
    desired = index_settings("product", CURRENCIES)
    assert {"price_min_usd", "price_max_eur", "status"} <= set(desired["filterableAttributes"])
    assert desired["rankingRules"][0] == "sort"
    # the typo rules of every backend (indexer.model.text) and the field tiers
    assert desired["typoTolerance"]["minWordSizeForTypos"] == {"oneTypo": TYPO_ONE_MIN,
                                                               "twoTypos": TYPO_TWO_MIN}
    assert desired["rankingRules"][1:5] == ["words", "typo", "attributeRank", "exactness"]
    assert desired["searchableAttributes"][:2] == ["title", "subtitle"]
    assert desired["searchableAttributes"].index("tags") < desired[
        "searchableAttributes"].index("description")
    assert "handle" not in desired["searchableAttributes"]  # identifiers: exact only
    current = {**desired, "filterableAttributes": desired["filterableAttributes"][::-1],
               "typoTolerance": {**desired["typoTolerance"], "disableOnWords": []},
               "synonyms": {}}
    assert settings_drift(current, desired) == {}
    changed = {**current, "rankingRules": ["words", "sort"],
               "typoTolerance": {"enabled": True, "minWordSizeForTypos": {
                   "oneTypo": 4, "twoTypos": 255}}}
    assert set(settings_drift(changed, desired)) == {"rankingRules", "typoTolerance"}
    assert settings_drift({}, desired) == desired


# ---- naming and configuration -------------------------------------------------------------
def test_index_uids_round_trip() -> None:
    uid = index_uid("shop-1", TENANT, "content")
    assert uid == f"shop-1_{TENANT.hex}_content"
    assert parse_uid("shop-1", uid) == (TENANT, "content")
    assert parse_uid("shop-1", uid + NEXT) is None
    assert parse_uid("other", uid) is None


def test_meilisearch_settings_are_validated() -> None:
    with pytest.raises(SettingsError, match="MEILISEARCH_URL is required"):
        load_settings(SEARCH_BACKEND="meilisearch", MEILISEARCH_URL="")
    with pytest.raises(SettingsError, match="MEILISEARCH_URL"):
        load_settings(MEILISEARCH_URL="ftp://x")
    settings = Settings(MEILISEARCH_URL="http://127.0.0.1:7700/", RUSTOK_ENGINES="tantivy",
                        RUSTOK_STREAM_PREFIX="rustok_test:1:ab")
    assert settings.meilisearch_url == "http://127.0.0.1:7700"
    assert settings.engines == ("tantivy", "meilisearch")
    assert settings.meili_prefix == "rustok_test-1-ab"


# ---- identifiers and options (issue 13) ---------------------------------------------------
def _roles(query: SearchQuery) -> dict[str, Request]:
    return {r.role: r for r in plan(query, SCOPE, "shop", CURRENCIES).requests}


def test_a_whole_query_is_also_looked_up_among_the_identifiers() -> None:
    roles = _roles(SearchQuery.model_validate({"q": " T0-P0000006-0 ",
                                               "filter": {"has_stock": True}}))
    found = roles["identified"].params
    assert tokenize(found["filter"]) == (
        "(status IN [?]) AND (has_stock = true) AND (identifiers = ?)",
        ["published", "t0-p0000006-0"])
    assert found["query"] is None and found["page"] == 1 and found["sort"] is None
    assert "identified_text" not in roles  # asked only when something was identified
    built = plan(SearchQuery(q=" T0-P0000006-0 "), SCOPE, "shop", CURRENCIES)
    responses = [{"totalHits": 1 if r.role == "identified" else 0, "hits": []}
                 for r in built.requests]
    (overlap_request,) = followup(built, responses)
    overlap = overlap_request.params
    assert overlap_request.role == "identified_text"
    # the trailing space stays (the last word is finished: no prefix, in every engine)
    assert overlap["query"] == "T0-P0000006-0 " and overlap["page"] == 0  # counts only
    assert overlap["filter"] == built.requests[1].params["filter"]
    assert followup(built, [{"totalHits": 0} for _ in built.requests]) == []
    slug = _roles(SearchQuery(doc_type="content", q="Care-101"))["identified"].params
    assert tokenize(slug["filter"])[1][-1] == "care-101" and "slug = " in slug["filter"]
    assert "identified" not in _roles(SearchQuery(q="x", sort="title:asc"))
    assert "identified" not in _roles(SearchQuery())


def test_identified_documents_come_first_and_count_once() -> None:
    query = SearchQuery(q="glass", per_page=3)
    built = plan(query, SCOPE, "shop", CURRENCIES)
    a, b, c, d = (str(uuid.uuid4()) for _ in range(4))
    by_role = {"main": {"totalHits": 5, "hits": [{"id": a}, {"id": b}, {"id": d}]},
               "identified": {"totalHits": 2, "hits": [{"id": c}, {"id": a}]},
               "identified_text": {"totalHits": 1, "hits": []}}
    first = [by_role[r.role] for r in built.requests]
    built = Plan(query, built.uid, [*built.requests, *followup(built, first)])
    got = result(built, [by_role[r.role] for r in built.requests], "meilisearch")
    assert [str(h.id) for h in got.hits] == [c, a, b]
    assert got.total == 6  # 5 text matches, 2 identified, 1 of them both
    later = plan(query.model_copy(update={"page": 2}), SCOPE, "shop", CURRENCIES)
    first = [by_role[r.role] for r in later.requests]
    later = Plan(later.query, later.uid, [*later.requests, *followup(later, first)])
    page2 = result(later, [by_role[r.role] for r in later.requests], "meilisearch")
    assert [str(h.id) for h in page2.hits] == [b, d]  # never an identified one twice


def test_option_filters_and_facets() -> None:
    query = SearchQuery.model_validate({
        "filter": {"options": ["Colour:red", "Size:M", "Colour:navy"]}, "facets": ["options"]})
    roles = _roles(query)
    skeleton, literals = tokenize(roles["main"].params["filter"])
    assert skeleton == ("(status IN [?]) AND ((option_values IN [?, ?]) AND "
                        "(option_values IN [?]))")
    assert literals == ["published", "Colour:red", "Colour:navy", "Size:M"]
    counted = roles["count"].params  # the option facet ignores the option filter
    assert counted["facets"] == ["option_values"] and "option_values" not in counted["filter"]
    settings = index_settings("product", CURRENCIES)
    assert {"option_values", "identifiers"} <= set(settings["filterableAttributes"])
    assert "options.values" in settings["searchableAttributes"]
    assert "identifiers" not in settings["searchableAttributes"]  # exact matches only
    assert "slug" in index_settings("content", CURRENCIES)["filterableAttributes"]


def test_a_merchandising_tier_is_one_filter_clause_with_the_complement() -> None:
    from search_api.filters import FilterTest, ProductFilter

    boost = FilterTest(filters=(ProductFilter(tags=['a"b']), ProductFilter(has_stock=True)))
    scope = SearchScope(tenant_id=TENANT, tier=((FilterTest(filters=boost.filters,
                                                            negate=True),),))
    main = plan(SearchQuery(facets=["tags"]), scope, "t", CURRENCIES).requests[0]
    assert main.params["filter"] == (
        '(status IN ["published"]) AND '
        '((NOT (((tags IN ["a\\"b"])) OR ((has_stock = true)))))')
    # a price in a currency without fields matches nothing instead of failing the search
    nothing = SearchScope(tenant_id=TENANT, tier=((FilterTest(filters=(
        ProductFilter.model_validate({"price": {"currency": "JPY", "min": 1}}),)),),))
    assert "(NOT id EXISTS)" in plan(SearchQuery(), nothing, "t", CURRENCIES
                                     ).requests[0].params["filter"]
