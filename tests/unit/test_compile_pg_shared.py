"""Facets (and price stats) counted over the same hit set share one materialized match in the
Postgres compiler; facets whose own filter is set keep their own match (pure)."""

from __future__ import annotations

import uuid

from search_api.model import SearchQuery
from search_api.pg_facets import PRICE_STATS, compile_facets
from search_api.scope import SearchScope

SCOPE = SearchScope(tenant_id=uuid.UUID("01890000-0000-7000-8000-000000000001"))


def test_one_match_serves_every_facet_and_the_stats_without_filters() -> None:
    query = SearchQuery(q="leather boots", facets=["categories", "tags", "price"],
                        currency="EUR")
    compiled = compile_facets(query, SCOPE, price_stats=True)
    assert compiled is not None
    assert compiled.sql.count("MATERIALIZED") == 2  # the text (tq) and the shared match
    assert compiled.sql.count("search_vector @@") == compiled.sql.split(
        " UNION ALL ")[0].count("search_vector @@")  # the text is matched in the CTE only
    assert compiled.params.count(["leather", "boots"]) == 1  # the text is expanded once
    # the identifier key (`identifier_match`), in the shared match
    assert compiled.params.count("leather boots") == 1
    assert f"'{PRICE_STATS}'" in compiled.sql


def test_a_set_filter_gives_its_facet_and_the_stats_their_own_hit_sets() -> None:
    query = SearchQuery.model_validate({
        "q": "boots", "facets": ["categories", "tags", "price"], "currency": "EUR",
        "filter": {"tags": ["sale"], "price": {"currency": "EUR", "max": 5000}}})
    compiled = compile_facets(query, SCOPE, price_stats=True)
    assert compiled is not None
    # categories alone on the fully filtered hits, tags without the tag filter, price facet
    # and stats share the hits without the price filter (and all read the one text CTE)
    assert compiled.sql.count("MATERIALIZED") == 2
    assert compiled.params.count(["sale"]) == 2  # every hit set but the tags one
    assert compiled.params.count(5000) == 2  # every hit set but the price one
    assert compile_facets(SearchQuery(), SCOPE, price_stats=True) is None
