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
from indexer.model.relevance import TextRules
from indexer.model.text import (
    FIRST_LETTER_TYPO_COST,
    TITLE_SORT_SQL,
    identifier_key,
    prefix_word,
    query_words,
)
from search_api.model import (
    OWN_FILTER,
    ContentFilter,
    FilterTest,
    ProductFilter,
    SearchQuery,
    SearchScope,
    option_groups,
)

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


@dataclass(frozen=True)
class TextQuery:
    """The user text of a query as PostgreSQL matches it: the CTE `tq` (one row of
    `rustok_text_query`, migrations/0019_search_words.sql: the tsqueries of the words, typo
    and prefix expansions included) and what the score needs to know about the words."""

    cte: str
    budgets: tuple[int, ...]
    prefix: bool


def _text_query(doc_type: DocType, q: str | None, scope: SearchScope,
                p: Params) -> TextQuery | None:
    """The text CTE of user text `q` (None without text). The words are `query_words` split at
    underscores (PostgreSQL's parser splits there too); their typo budgets and whether the
    last one is a prefix follow `indexer.model.text`."""
    if not q:
        return None
    rules = scope.text_rules
    words, alternatives = _positions(query_words(q), rules)
    budgets = tuple(rules.typo_budget(word) for word in words)
    typed_last = query_words(q)[-1:] or [""]
    prefix = bool(words) and prefix_word(q) is not None and words[-1] != "" and \
        not (rules.stop_words and typed_last[0] in rules.stop_words)
    tenant = p.add(scope.tenant_id)
    cte = (f"tq AS MATERIALIZED (SELECT * FROM rustok_text_query({tenant}, "
           f"'{doc_type}', {_TENANT_CFG.format(tenant=tenant)}, "
           f"{p.add(words)}::text[], {p.add(list(budgets))}::int[], {p.add(prefix)}, "
           f"{FIRST_LETTER_TYPO_COST}, {p.add(alternatives)}::text[]))")
    return TextQuery(cte, budgets, prefix)


def _pg_words(word: str) -> list[str]:
    """A query word as PostgreSQL's parser splits it (at underscores)."""
    return [part for part in word.split("_") if part]


def _positions(typed: list[str], rules: TextRules) -> tuple[list[str], list[str | None]]:
    """The words `rustok_text_query` matches and, per word, the tsquery text of its
    synonyms (`{w}` where the weights go; None: none) under the tenant's text rules: stop
    words out; a typed single word keeps its typos and prefix beside its alternatives; a
    position whose typed form has several words is an empty word standing for all its
    alternatives (the typed phrase among them)."""
    if rules.plain:
        plain = [part for word in typed for part in _pg_words(word)]
        return plain, [None] * len(plain)

    def phrase(alternative: tuple[str, ...]) -> str:
        parts = [part for word in alternative for part in _pg_words(word)]
        return "(" + " & ".join(f"{part}{{w}}" for part in parts) + ")"

    words: list[str] = []
    alternatives: list[str | None] = []
    for position in rules.positions(typed):
        typed_form, others = position[0], position[1:]
        parts = [part for word in typed_form for part in _pg_words(word)]
        if not others:
            words += parts
            alternatives += [None] * len(parts)
        elif len(parts) == 1:
            words.append(parts[0])
            alternatives.append(" | ".join(phrase(alt) for alt in others))
        else:
            words.append("")
            alternatives.append(" | ".join(phrase(alt) for alt in position))
    return words, alternatives


def _with(text: TextQuery | None, *ctes: str) -> str:
    """`WITH ...` naming the text CTE (if any) and `ctes`, or nothing."""
    names = ([text.cte] if text is not None else []) + list(ctes)
    return f"WITH {', '.join(names)} " if names else ""


TQ = "(SELECT {} FROM tq)"
"""A field of the text CTE as a scalar subquery: evaluated once per statement (an InitPlan),
a constant tsquery the planner can look up in the GIN index."""


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
           ) -> list[tuple[str, str]]:
    """Named WHERE clauses but `skip`; only the parameters of the kept clauses are added.
    With user text the statement must name the text CTE (`_text_query`, `_with`)."""
    tenant = p.add(scope.tenant_id)
    clauses: list[tuple[str, str]] = [("tenant", f"tenant_id = {tenant}")]
    flt = query.filter
    statuses = scope.statuses(query)
    if statuses is not None:
        clauses.append(("status", f"status = ANY({p.add(statuses)}::text[])"))
    clauses += _id_clauses(table_of(query).key, scope, p)
    if scope.tier:
        clauses.append(("tier", _tier(scope, p)))
    if query.q:
        text = f"search_vector @@ {TQ.format('match')}"
        ident = identifier_match(query, p)
        clauses.append(("text", text if ident is None else f"({text} OR {ident})"))
    if isinstance(flt, ProductFilter):
        clauses += _product_filters(flt, p, skip)
    elif isinstance(flt, ContentFilter):
        clauses += _content_filters(flt, p, skip)
    return clauses


def _tier(scope: SearchScope, p: Params) -> str:
    """The scope's merchandising tier (`SearchScope.tier`) as one condition. A filter's
    condition is NULL on a document without the field, so each test is made true or false
    (`IS TRUE`): a negated test holds for those documents too, as on the other engines."""
    def matches(flt: ProductFilter | ContentFilter) -> str:
        parts = (_product_filters(flt, p, None) if isinstance(flt, ProductFilter)
                 else _content_filters(flt, p, None))
        if flt.status:
            parts.append(("status", f"status = ANY({p.add(list(flt.status))}::text[])"))
        return " AND ".join(f"({sql})" for _, sql in parts) or "TRUE"

    def test(t: FilterTest) -> str:
        found = " OR ".join(f"({matches(flt)})" for flt in t.filters) or "FALSE"
        return f"({found}) IS {'NOT ' if t.negate else ''}TRUE"

    return " AND ".join("(" + " OR ".join(test(t) for t in group) + ")"
                        for group in scope.tier)


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
    # IS TRUE: a document without the identifier (content without a slug) ranks 0, not NULL
    # (NULL would sort first under DESC)
    return "0" if ident is None else f"(({ident}) IS TRUE)::int"


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


def _score(text: TextQuery | None, fields: bool = True, engine: bool = True) -> str:
    """The relevance score of a matching row: the tiers of README's ranking rules as one
    number, so that `score DESC` orders by fewer typos, then (with `fields`) the better
    fields the words matched in (title, then subtitle/tags/categories, then description; a
    word's field is the best among its stems of the fewest typos), then whole words before
    the prefix, then (with `engine`) ts_rank_cd. Each word adds 0-2 typos and 0-2 field
    steps, so with n words a tier step of F = 2n + 2 keeps them apart (the prefix step is 1
    and the rank r/(1+r) below 1)."""
    if text is None or not text.budgets:
        return "0::float8"
    n = len(text.budgets)
    step = 2 * n + 2
    v = "search_vector"

    def word(i: int, budget: int) -> str | None:
        """typos * F² + field * F of word i: the first level (no typo, one, two) it matches
        at, and within it the best field."""
        levels = [("near", "near_title", "near_related")]
        if budget > 0:
            levels.append(("one", "one_title", "one_related"))
            levels.append(("match", "title", "related"))  # any stem: two typos
        if not fields:
            levels = [(level, level, level) for level, _, _ in levels]
        cases = []
        for typos, (any_field, title, related) in enumerate(levels):
            base = typos * step * step
            for rank, name in enumerate((title, related, any_field) if fields else (title,)):
                if typos == len(levels) - 1 and name == any_field:
                    cases.append(f"ELSE {base + rank * step}")
                    break
                cell = TQ.format(name if name == "match" else f"{name}[{i}]")
                cases.append(f"WHEN {v} @@ {cell} THEN {base + rank * step}")
        if len(cases) == 1:
            return None
        near = TQ.format(f"near[{i}]")
        return f"(CASE WHEN {near} IS NULL THEN 0 {' '.join(cases)} END)"

    parts = [part for i, budget in enumerate(text.budgets, 1)
             if (part := word(i, budget)) is not None]
    if text.prefix:
        parts.append(f"(CASE WHEN {v} @@ {TQ.format(f'whole[{n}]')} THEN 0 ELSE 1 END)")
    top = 2 * n * step * step + 2 * n * step + 2
    score = f"{top} - ({' + '.join(parts)})" if parts else f"{top}"
    if engine:
        rank = f"ts_rank_cd({v}, {TQ.format('match')})"
        score = f"{score} + {rank} / (1 + {rank})"
    return f"({score})::float8"


def compile_hits(query: SearchQuery, scope: SearchScope) -> Compiled:
    """One page of hits in order: the document columns, `rank` (the relevance score),
    `total` (every hit) and, with highlighting and text, `hl_<column>` fragments marked with
    <mark></mark>."""
    table = table_of(query)
    p = Params()
    text = _text_query(query.doc_type, query.q, scope, p)
    clauses = _where(query, scope, p)
    order = _order_by(query, scope, table, p)
    limit, offset = p.add(query.per_page), p.add(query.offset)
    ident = _identifier_rank(query, p)
    sql = (f"SELECT {table.columns}, {_score(text)} AS rank, {ident} AS ident, "
           f"count(*) OVER () AS total "
           f"FROM {table.name} WHERE {' AND '.join(c for _, c in clauses)} "
           f"ORDER BY {order} LIMIT {limit} OFFSET {offset}")
    if query.highlight and text is not None:
        # headlines are computed for the page only, in an outer query over it, in the
        # tenant's language with every stem the words matched (typos and prefixes included)
        sel = f"StartSel={START_SEL}, StopSel={STOP_SEL}"
        whole = p.add(f"{sel}, HighlightAll=true")
        frag = p.add(f"{sel}, MaxFragments=2, MaxWords=30, MinWords=10")
        marks = [f"ts_headline({TQ.format('cfg')}, "
                 f"left(coalesce(h.{col}, ''), {HIGHLIGHT_MAX_CHARS}), {TQ.format('marks')}, "
                 f"{whole if col == 'title' else frag}) AS hl_{col}" for col in table.highlight]
        # the order expressions only name selected columns, so they apply to `h` as well
        sql = f"SELECT h.*, {', '.join(marks)} FROM ({sql}) h ORDER BY {order}"
    return Compiled(_with(text) + sql, p.values)


def compile_count(query: SearchQuery, scope: SearchScope) -> Compiled:
    table = table_of(query)
    p = Params()
    text = _text_query(query.doc_type, query.q, scope, p)
    clauses = _where(query, scope, p)
    return Compiled(f"{_with(text)}SELECT count(*) FROM {table.name} "
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
    text = _text_query(query.doc_type, query.q, scope, p)
    set_filters = {name for name, _ in _where(query, scope, Params())}
    hit_sets: dict[str | None, list[str]] = {}
    for name in names:
        own = _OWN_FILTER.get(name)
        hit_sets.setdefault(own if own in set_filters else None, []).append(name)
    shared: list[str] = []
    sources: dict[str, str] = {}
    for skip, members in hit_sets.items():
        clauses = _where(query, scope, p, skip=skip)
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
    return Compiled(_with(text, *shared) + union, p.values)


def compile_price_stats(query: SearchQuery, scope: SearchScope) -> Compiled | None:
    """min of the minimum prices and max of the maximum prices in the price currency over the
    hits without the price filter (like the price facet); None without a currency."""
    if query.doc_type != "product" or query.price_currency is None:
        return None
    p = Params()
    text = _text_query(query.doc_type, query.q, scope, p)
    clauses = _where(query, scope, p, skip="price")
    cur = p.add(query.price_currency) + "::text"
    where = " AND ".join(c for _, c in clauses)
    return Compiled(f"{_with(text)}SELECT min((prices->{cur}->>'min')::bigint) AS min, "
                    f"max((prices->{cur}->>'max')::bigint) AS max FROM {PRODUCTS.name} "
                    f"WHERE {where} AND prices ? {cur}", p.values)


def compile_suggest(doc_type: DocType, prefix: str, scope: SearchScope,
                    limit: int) -> Compiled | None:
    """Titles that match the text as a search does (the last word also a prefix, typos within
    the budgets), in the title: fewer typos first, then whole words before the prefix, then
    the title. None when the text has no word."""
    if not query_words(prefix):
        return None
    table = PRODUCTS if doc_type == "product" else CONTENT
    p = Params()
    text = _text_query(doc_type, prefix, scope, p)
    where = [f"tenant_id = {p.add(scope.tenant_id)}", "title IS NOT NULL",
             f"search_vector @@ {TQ.format('title_match')}"]
    if not scope.include_drafts:
        where.append("status = 'published'")
    return Compiled(
        f"{_with(text)}SELECT {table.key} AS id, title, "
        f"{_score(text, fields=False, engine=False)} AS score "
        f"FROM {table.name} WHERE {' AND '.join(where)} "
        f"ORDER BY score DESC, lower(title) COLLATE \"C\", {table.key} LIMIT {p.add(limit)}",
        p.values)
