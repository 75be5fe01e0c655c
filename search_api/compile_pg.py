"""Compiles a `SearchQuery` + `SearchScope` into SQL text and parameters over the index
tables `index_products` / `index_content` (pure: no I/O).

Every fragment comes from the fixed tables below, chosen by names the query model has already
validated; user values only ever travel as `$n` parameters. The tenant comes from the scope,
never from the query. Facets are disjunctive: a facet whose own filter is set is counted with
every other filter but not its own, so ticking a category keeps the other categories visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from indexer.model import SPECS, DocType
from indexer.model.text import FUZZY_MIN_LETTERS, TITLE_SORT_SQL, identifier_key, query_words
from search_api.model import (
    OWN_FILTER,
    ContentFilter,
    ProductFilter,
    SearchQuery,
    SearchScope,
    option_groups,
)

FUZZY_THRESHOLD = 0.4
"""`pg_trgm.word_similarity_threshold` for the fuzzy branch. One deleted letter in a 5-letter
word ("jaket" for "jacket") scores 0.44 against a title holding the word, so 0.5 missed most
such titles; 0.4 keeps one-edit typos of 5+ letter words."""
START_SEL, STOP_SEL = "\u27e6", "\u27e7"
"""ts_headline delimiters, swapped for <mark></mark> after HTML-escaping the fragment."""
HIGHLIGHT_MAX_CHARS = 20_000
"""ts_headline reads at most this much of a field: its cost grows with the text, and on a
description of a megabyte (a row another writer put there) one highlighted search ran for
25 minutes in PostgreSQL, holding a backend that every DROP DATABASE then waited for. A match
past this point is found by the search but not marked."""


@dataclass(frozen=True)
class Table:
    name: str
    key: str
    columns: str
    """The columns a hit document is built from (`indexer.model.docs`)."""
    highlight: tuple[str, ...]
    facet_columns: str
    """The columns the facet queries read."""

    @classmethod
    def of(cls, doc_type: DocType, facet_columns: str) -> Table:
        spec = SPECS[doc_type]
        return cls(spec.table, spec.key, spec.hit_columns, spec.highlight, facet_columns)


PRODUCTS = Table.of("product",
                    "category_ids, tags, currencies, has_stock, prices, option_values")
CONTENT = Table.of("content", "kind, category_id, tags, author_id")

_TENANT_CFG = ("COALESCE((SELECT c.oid::regconfig FROM tenants t JOIN pg_ts_config c "
               "ON c.cfgname = t.settings->>'language' WHERE t.id = {tenant}), "
               "'simple'::regconfig)")
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


@dataclass
class Params:
    """Positional parameters collected while compiling."""

    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


@dataclass(frozen=True)
class Compiled:
    sql: str
    params: list[Any]


def table_of(query: SearchQuery) -> Table:
    return PRODUCTS if query.doc_type == "product" else CONTENT


def _id_clauses(key: str, scope: SearchScope, p: Params) -> list[tuple[str, str]]:
    """The scope's merchandising bounds: only some documents (a pin lookup), or not some."""
    out = []
    if scope.only_ids is not None:
        out.append(("ids", f"{key} = ANY({p.add(sorted(scope.only_ids))}::uuid[])"))
    if scope.exclude_ids:
        out.append(("not_ids",
                     f"NOT ({key} = ANY({p.add(sorted(scope.exclude_ids))}::uuid[]))"))
    return out


def _where(query: SearchQuery, scope: SearchScope, p: Params, skip: str | None = None,
           ) -> tuple[list[tuple[str, str]], str | None, str | None]:
    """Named WHERE clauses but `skip`, the tsquery expression and the parameter of the user
    text (both None without text). Only the parameters of the kept clauses are added."""
    tenant = p.add(scope.tenant_id)
    clauses: list[tuple[str, str]] = [("tenant", f"tenant_id = {tenant}")]
    flt = query.filter
    statuses = scope.statuses(query)
    if statuses is not None:
        clauses.append(("status", f"status = ANY({p.add(statuses)}::text[])"))
    clauses += _id_clauses(table_of(query).key, scope, p)
    tsq = q = None
    if query.q:
        q = p.add(query.q) + "::text"
        cfg = _TENANT_CFG.format(tenant=tenant)
        # a scalar subquery is evaluated once per statement (an InitPlan), not once per row,
        # and gives the planner a constant tsquery it can look up in the GIN index
        tsq = (f"(SELECT websearch_to_tsquery('simple', {q}) "
               f"|| websearch_to_tsquery({cfg}, {q}))")
        text = f"search_vector @@ {tsq}"
        words = query_words(query.q)
        if any(len(word) >= FUZZY_MIN_LETTERS for word in words):
            # or every word matches exactly or (5+ letters) a title word with a typo
            fuzzy = []
            for word in words:
                w = p.add(word) + "::text"
                exact = (f"search_vector @@ (SELECT websearch_to_tsquery('simple', {w}) "
                         f"|| websearch_to_tsquery({cfg}, {w}))")
                fuzzy.append(f"({exact} OR {w} <% title)" if len(word) >= FUZZY_MIN_LETTERS
                             else exact)
            text = f"({text} OR ({' AND '.join(fuzzy)}))"
        ident = identifier_match(query, p)
        clauses.append(("text", text if ident is None else f"({text} OR {ident})"))
    if isinstance(flt, ProductFilter):
        clauses += _product_filters(flt, p, skip)
    elif isinstance(flt, ContentFilter):
        clauses += _content_filters(flt, p, skip)
    return clauses, tsq, q


IDENTIFIER_SQL: dict[DocType, str] = {
    "product": "identifiers @> ARRAY[{key}]",
    "content": "lower(slug) = {key}",
}
"""A document whose identifier (product: lowercased handle, SKUs, barcodes; content: slug)
is the query key; both use an index (GIN on `identifiers`, `(tenant_id, lower(slug))`)."""


def identifier_match(query: SearchQuery, p: Params) -> str | None:
    """The condition that the whole query is one of the document's identifiers (exactly,
    case-insensitively: `text.identifier_key`), OR'ed with the text match; None without
    text."""
    key = identifier_key(query.q)
    if key is None:
        return None
    return IDENTIFIER_SQL[query.doc_type].format(key=p.add(key) + "::text")


def _identifier_rank(query: SearchQuery, p: Params) -> str:
    """1 for a document the whole query identifies, else 0: the first relevance tier."""
    ident = identifier_match(query, p)
    return "0" if ident is None else f"({ident})::int"


def _product_filters(flt: ProductFilter, p: Params,
                     skip: str | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if flt.categories and skip != "categories":
        out.append(("categories", f"category_ids && {p.add(flt.categories)}::uuid[]"))
    if flt.tags and skip != "tags":
        out.append(("tags", f"tags && {p.add(flt.tags)}::text[]"))
    if flt.price is not None and skip != "price":
        cur = p.add(flt.price.currency) + "::text"
        parts = [f"prices ? {cur}"]
        if flt.price.min is not None:
            parts.append(f"(prices->{cur}->>'max')::bigint >= {p.add(flt.price.min)}")
        if flt.price.max is not None:
            parts.append(f"(prices->{cur}->>'min')::bigint <= {p.add(flt.price.max)}")
        out.append(("price", " AND ".join(parts)))
    if flt.has_stock is not None and skip != "has_stock":
        out.append(("has_stock", f"has_stock = {p.add(flt.has_stock)}"))
    if flt.options and skip != "options":
        out.append(("options", " AND ".join(f"option_values && {p.add(group)}::text[]"
                                            for group in option_groups(flt.options))))
    return out


def _content_filters(flt: ContentFilter, p: Params,
                     skip: str | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if flt.kind and skip != "kind":
        out.append(("kind", f"kind = ANY({p.add(list(flt.kind))}::text[])"))
    if flt.categories and skip != "categories":
        out.append(("categories", f"category_id = ANY({p.add(flt.categories)}::uuid[])"))
    if flt.tags and skip != "tags":
        out.append(("tags", f"tags && {p.add(flt.tags)}::text[]"))
    if flt.author and skip != "author":
        out.append(("author", f"author_id = ANY({p.add(flt.author)}::uuid[])"))
    if flt.published is not None:
        parts = ["published_at IS NOT NULL"]
        if flt.published.gte is not None:
            parts.append(f"published_at >= {p.add(flt.published.gte)}")
        if flt.published.lte is not None:
            parts.append(f"published_at <= {p.add(flt.published.lte)}")
        out.append(("published", " AND ".join(parts)))
    return out


def _in_stock_first(query: SearchQuery, scope: SearchScope) -> str:
    """Ranking tier 0: products in stock first (the tenant's `in_stock_first`), before the
    relevance or the explicit sort."""
    return "has_stock DESC, " if query.doc_type == "product" and scope.in_stock_first else ""


def _order_by(query: SearchQuery, scope: SearchScope, table: Table, p: Params) -> str:
    return _in_stock_first(query, scope) + _sort_order(query, table, p)


def _sort_order(query: SearchQuery, table: Table, p: Params) -> str:
    key = table.key
    if query.sort == "relevance":
        return f"ident DESC, rank DESC, {key}"
    name, direction = query.sort.split(":")
    desc = direction == "desc"
    if name == "price":
        expr = f"(prices->{p.add(query.price_currency)}::text->>'min')::bigint"
    elif name == "title":
        expr = TITLE_SORT_SQL
    else:
        expr = name  # created_at / published_at: validated sort names
    return f"{expr} {'DESC' if desc else 'ASC'} NULLS LAST, {key}"


def _rank(tsq: str | None, q_param: str | None) -> str:
    if tsq is None or q_param is None:
        return "0::float8"
    # exact matches score 1 + ts_rank_cd (A title > B > C description); fuzzy-only < 1
    return (f"CASE WHEN search_vector @@ {tsq} THEN 1 + ts_rank_cd(search_vector, {tsq}) "
            f"ELSE word_similarity({q_param}, coalesce(title, '')) * 0.5 END")


def compile_hits(query: SearchQuery, scope: SearchScope) -> Compiled:
    """One page of hits in order: the document columns, `rank`, `total` (every hit) and, with
    highlighting and text, `hl_<column>` fragments marked with <mark></mark>."""
    table = table_of(query)
    p = Params()
    clauses, tsq, q = _where(query, scope, p)
    order = _order_by(query, scope, table, p)
    limit, offset = p.add(query.per_page), p.add(query.offset)
    ident = _identifier_rank(query, p)
    sql = (f"SELECT {table.columns}, {_rank(tsq, q)} AS rank, {ident} AS ident, "
           f"count(*) OVER () AS total "
           f"FROM {table.name} WHERE {' AND '.join(c for _, c in clauses)} "
           f"ORDER BY {order} LIMIT {limit} OFFSET {offset}")
    if query.highlight and tsq is not None:
        # headlines are computed for the page only, in an outer query over it
        sel = f"StartSel={START_SEL}, StopSel={STOP_SEL}"
        whole = p.add(f"{sel}, HighlightAll=true")
        frag = p.add(f"{sel}, MaxFragments=2, MaxWords=30, MinWords=10")
        marks = [f"ts_headline('simple', left(coalesce(h.{col}, ''), {HIGHLIGHT_MAX_CHARS}), "
                 f"{tsq}, "
                 f"{whole if col == 'title' else frag}) AS hl_{col}" for col in table.highlight]
        # the order expressions only name selected columns, so they apply to `h` as well
        sql = f"SELECT h.*, {', '.join(marks)} FROM ({sql}) h ORDER BY {order}"
    return Compiled(sql, p.values)


def compile_count(query: SearchQuery, scope: SearchScope) -> Compiled:
    table = table_of(query)
    p = Params()
    clauses, _, _ = _where(query, scope, p)
    return Compiled(f"SELECT count(*) FROM {table.name} "
                    f"WHERE {' AND '.join(c for _, c in clauses)}", p.values)


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
    set_filters = {name for name, _ in _where(query, scope, Params())[0]}
    hit_sets: dict[str | None, list[str]] = {}
    for name in names:
        own = _OWN_FILTER.get(name)
        hit_sets.setdefault(own if own in set_filters else None, []).append(name)
    shared: list[str] = []
    sources: dict[str, str] = {}
    for skip, members in hit_sets.items():
        clauses, _, _ = _where(query, scope, p, skip=skip)
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
    return Compiled(f"WITH {', '.join(shared)} {union}" if shared else union, p.values)


def compile_price_stats(query: SearchQuery, scope: SearchScope) -> Compiled | None:
    """min of the minimum prices and max of the maximum prices in the price currency over the
    hits without the price filter (like the price facet); None without a currency."""
    if query.doc_type != "product" or query.price_currency is None:
        return None
    p = Params()
    clauses, _, _ = _where(query, scope, p, skip="price")
    cur = p.add(query.price_currency) + "::text"
    where = " AND ".join(c for _, c in clauses)
    return Compiled(f"SELECT min((prices->{cur}->>'min')::bigint) AS min, "
                    f"max((prices->{cur}->>'max')::bigint) AS max FROM {PRODUCTS.name} "
                    f"WHERE {where} AND prices ? {cur}", p.values)


def compile_suggest(doc_type: DocType, prefix: str, scope: SearchScope,
                    limit: int) -> Compiled | None:
    """Titles whose words start with the typed words (the last one a prefix), or that look
    like the text with a typo; prefix matches first. None when the text has no word."""
    words = query_words(prefix)
    if not words:
        return None
    table = PRODUCTS if doc_type == "product" else CONTENT
    p = Params()
    where = [f"tenant_id = {p.add(scope.tenant_id)}", "title IS NOT NULL"]
    if not scope.include_drafts:
        where.append("status = 'published'")
    tsq = f"to_tsquery('simple', {p.add(' & '.join(f'{w}:*' for w in words))}::text)"
    prefixed = f"to_tsvector('simple', title) @@ {tsq}"
    *head, last = words
    text = p.add(last) + "::text"
    matches = prefixed
    if len(last) >= FUZZY_MIN_LETTERS:
        # the earlier words as typed, the last one with a typo
        near = f"{text} <% title"
        if head:
            head_tsq = p.add(" & ".join(f"{w}:*" for w in head)) + "::text"
            near = f"{near} AND to_tsvector('simple', title) @@ to_tsquery('simple', {head_tsq})"
        matches = f"({prefixed} OR ({near}))"
    return Compiled(
        f"SELECT {table.key} AS id, title, "
        f"(CASE WHEN {prefixed} THEN 1 ELSE 0 END) + word_similarity({text}, title) AS score "
        f"FROM {table.name} WHERE {' AND '.join(where)} AND {matches} "
        f"ORDER BY score DESC, lower(title) COLLATE \"C\", {table.key} LIMIT {p.add(limit)}",
        p.values)
