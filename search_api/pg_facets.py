"""Disjunctive facets and price stats of the Postgres backend as SQL: a facet whose own
filter is set is counted with every other filter but not its own, so ticking a category keeps
the other categories visible (pure: no I/O)."""

from __future__ import annotations

from search_api.facets import OWN_FILTER
from search_api.model import SearchQuery
from search_api.pg_filters import where_clauses
from search_api.pg_tables import PRODUCTS, Compiled, Params, table_of
from search_api.pg_text import text_query, with_ctes
from search_api.scope import SearchScope

PRICE_STATS = "price_stats"
"""The facet-row name of the price stats (no facet is called so)."""
_FACET_SQL: dict[tuple[str, str], str] = {
    ("product", "categories"): "SELECT 'categories', v::text, count(*) FROM {m}, "
                               "unnest(category_ids) v GROUP BY 2",
    ("product", "tags"): "SELECT 'tags', v, count(*) FROM {m}, unnest(tags) v GROUP BY 2",
    ("product", "currencies"): "SELECT 'currencies', v, count(*) FROM {m}, unnest(currencies) v "
                               "GROUP BY 2",
    ("product", "has_stock"): "SELECT 'has_stock', has_stock::text, count(*) FROM {m} GROUP BY 2",
    ("product", "options"): "SELECT 'options', v, count(*) FROM {m}, unnest(option_values) v "
                            "GROUP BY 2",
    ("product", "price"): "SELECT 'price', (prices->{cur}->>'min'), count(*) FROM {m} "
                          "WHERE prices ? {cur} GROUP BY 2",
    ("product", PRICE_STATS): f"SELECT '{PRICE_STATS}', "
                              "min((prices->{cur}->>'min')::bigint)::text, "
                              "max((prices->{cur}->>'max')::bigint) FROM {m} WHERE prices ? {cur}",
    ("content", "kind"): "SELECT 'kind', kind::text, count(*) FROM {m} GROUP BY 2",
    ("content", "categories"): "SELECT 'categories', category_id::text, count(*) FROM {m} "
                               "WHERE category_id IS NOT NULL GROUP BY 2",
    ("content", "tags"): "SELECT 'tags', v, count(*) FROM {m}, unnest(tags) v GROUP BY 2",
    ("content", "author"): "SELECT 'author', author_id::text, count(*) FROM {m} "
                           "WHERE author_id IS NOT NULL GROUP BY 2",
}
"""Rows (facet, value, count) over the CTE `{m}` of matching rows. Price rows carry the
minimum price (bucketed by the caller with `model.bucket_label`)."""
_OWN_FILTER = {**OWN_FILTER, PRICE_STATS: "price"}
"""Which filter clause a facet ignores (price stats count like the price facet)."""


def compile_facets(query: SearchQuery, scope: SearchScope,
                   price_stats: bool = False) -> Compiled | None:
    """Rows (facet, value, count) for every requested facet, each over the hits filtered by
    everything but its own filter; with `price_stats` (and a product price currency) also the
    row (PRICE_STATS, min of the minimum prices as text, max of the maximum prices) over the
    hits without the price filter. None when there is nothing to count. Facets counted over
    the same hit set (their own filter is not set) share one MATERIALIZED match, so the text
    search runs once per distinct hit set rather than once per facet."""
    names = list(query.facets)
    if price_stats and query.doc_type == "product" and query.price_currency is not None:
        names.append(PRICE_STATS)
    if not names:
        return None
    table = table_of(query)
    p = Params()
    priced = "price" in names or PRICE_STATS in names
    cur = p.add(query.price_currency) + "::text" if priced else ""
    text = text_query(query.doc_type, query.q, scope, p)
    set_filters = {name for name, _ in where_clauses(query, scope, Params())}
    hit_sets: dict[str | None, list[str]] = {}
    for name in names:
        own = _OWN_FILTER.get(name)
        hit_sets.setdefault(own if own in set_filters else None, []).append(name)
    shared: list[str] = []
    sources: dict[str, str] = {}
    for skip, members in hit_sets.items():
        clauses = where_clauses(query, scope, p, skip=skip)
        where = " AND ".join(c for _, c in clauses)
        if len(members) == 1:
            sources[members[0]] = f"(SELECT * FROM {table.name} WHERE {where})"
            continue
        cte = f"s{len(shared)}"
        shared.append(f"{cte} AS MATERIALIZED (SELECT {table.facet_columns} "
                      f"FROM {table.name} WHERE {where})")
        sources.update((name, cte) for name in members)
    parts = [_FACET_SQL[(query.doc_type, name)].format(m=f"{sources[name]} m{index}", cur=cur)
             for index, name in enumerate(names)]
    union = " UNION ALL ".join(f"({part})" for part in parts)
    return Compiled(with_ctes(text, *shared) + union, p.values)


def compile_price_stats(query: SearchQuery, scope: SearchScope) -> Compiled | None:
    """min of the minimum prices and max of the maximum prices in the price currency over the
    hits without the price filter (like the price facet); None without a currency."""
    if query.doc_type != "product" or query.price_currency is None:
        return None
    p = Params()
    text = text_query(query.doc_type, query.q, scope, p)
    clauses = where_clauses(query, scope, p, skip="price")
    cur = p.add(query.price_currency) + "::text"
    where = " AND ".join(c for _, c in clauses)
    return Compiled(f"{with_ctes(text)}SELECT min((prices->{cur}->>'min')::bigint) AS min, "
                    f"max((prices->{cur}->>'max')::bigint) AS max FROM {PRODUCTS.name} "
                    f"WHERE {where} AND prices ? {cur}", p.values)
