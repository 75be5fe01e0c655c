"""The order of Postgres hits: the relevance score (typos, fields, prefix, ts_rank_cd), the
identifier tier, in-stock-first and the explicit sorts, as SQL expressions (pure: no I/O)."""

from __future__ import annotations

from indexer.model.text import TITLE_SORT_SQL
from search_api.model import SearchQuery
from search_api.pg_filters import identifier_match
from search_api.pg_tables import Params, Table
from search_api.pg_text import TQ, TextQuery
from search_api.scope import SearchScope


def identifier_rank(query: SearchQuery, p: Params) -> str:
    """1 for a document the whole query identifies, else 0: the first relevance tier."""
    ident = identifier_match(query, p)
    # IS TRUE: a document without the identifier (content without a slug) ranks 0, not NULL
    # (NULL would sort first under DESC)
    return "0" if ident is None else f"(({ident}) IS TRUE)::int"


def _in_stock_first(query: SearchQuery, scope: SearchScope) -> str:
    """Ranking tier 0: products in stock first (the tenant's `in_stock_first`), before the
    relevance or the explicit sort."""
    return "has_stock DESC, " if query.doc_type == "product" and scope.in_stock_first else ""


def order_by(query: SearchQuery, scope: SearchScope, table: Table, p: Params) -> str:
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


def relevance_score(text: TextQuery | None, fields: bool = True, engine: bool = True) -> str:
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
