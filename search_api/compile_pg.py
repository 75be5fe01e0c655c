"""Compiles a `SearchQuery` + `SearchScope` into SQL text and parameters over the index
tables `index_products` / `index_content` (pure: no I/O): a page of hits, their count and title
suggestions here; the clauses, text, order and facets in the `pg_*` modules it builds from.

Every fragment comes from fixed tables, chosen by names the query model has already
validated; user values only ever travel as `$n` parameters. The tenant comes from the scope,
never from the query.
"""

from __future__ import annotations

from indexer.model import DocType
from indexer.model.text import query_words
from search_api.model import SearchQuery
from search_api.pg_filters import where_clauses
from search_api.pg_ranking import identifier_rank, order_by, relevance_score
from search_api.pg_tables import CONTENT, PRODUCTS, Compiled, Params, table_of
from search_api.pg_text import TQ, text_query, with_ctes
from search_api.scope import SearchScope

START_SEL, STOP_SEL = "\u27e6", "\u27e7"
"""ts_headline delimiters, swapped for <mark></mark> after HTML-escaping the fragment."""
HIGHLIGHT_MAX_CHARS = 20_000
"""ts_headline reads at most this much of a field: its cost grows with the text, and on a
description of a megabyte (a row another writer put there) one highlighted search ran for
25 minutes in PostgreSQL, holding a backend that every DROP DATABASE then waited for. A match
past this point is found by the search but not marked."""


def compile_hits(query: SearchQuery, scope: SearchScope) -> Compiled:
    """One page of hits in order: the document columns, `rank` (the relevance score),
    `total` (every hit) and, with highlighting and text, `hl_<column>` fragments marked with
    <mark></mark>."""
    table = table_of(query)
    p = Params()
    text = text_query(query.doc_type, query.q, scope, p)
    clauses = where_clauses(query, scope, p)
    order = order_by(query, scope, table, p)
    limit, offset = p.add(query.per_page), p.add(query.offset)
    ident = identifier_rank(query, p)
    sql = (f"SELECT {table.columns}, {relevance_score(text)} AS rank, {ident} AS ident, "
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
    return Compiled(with_ctes(text) + sql, p.values)


def compile_count(query: SearchQuery, scope: SearchScope) -> Compiled:
    table = table_of(query)
    p = Params()
    text = text_query(query.doc_type, query.q, scope, p)
    clauses = where_clauses(query, scope, p)
    return Compiled(f"{with_ctes(text)}SELECT count(*) FROM {table.name} "
                    f"WHERE {' AND '.join(c for _, c in clauses)}", p.values)


def compile_suggest(doc_type: DocType, prefix: str, scope: SearchScope,
                    limit: int) -> Compiled | None:
    """Titles that match the text as a search does (the last word also a prefix, typos within
    the budgets), in the title: fewer typos first, then whole words before the prefix, then
    the title. None when the text has no word."""
    if not query_words(prefix):
        return None
    table = PRODUCTS if doc_type == "product" else CONTENT
    p = Params()
    text = text_query(doc_type, prefix, scope, p)
    where = [f"tenant_id = {p.add(scope.tenant_id)}", "title IS NOT NULL",
             f"search_vector @@ {TQ.format('title_match')}"]
    if not scope.include_drafts:
        where.append("status = 'published'")
    return Compiled(
        f"{with_ctes(text)}SELECT {table.key} AS id, title, "
        f"{relevance_score(text, fields=False, engine=False)} AS score "
        f"FROM {table.name} WHERE {' AND '.join(where)} "
        f"ORDER BY score DESC, lower(title) COLLATE \"C\", {table.key} LIMIT {p.add(limit)}",
        p.values)
