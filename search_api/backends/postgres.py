"""The reference search backend: full-text with typos and prefixes, filters, disjunctive
facets and sorts over the index tables `index_products` / `index_content` (I/O: PostgreSQL).

The SQL comes from the pure compiler `search_api.compile_pg`; this module only runs it and
maps rows into the response model.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import asyncpg

from indexer.model import SPECS, DocType
from indexer.model.text import query_words
from search_api.backends.highlight import mark_prefixes, marked_headline
from search_api.compile_pg import START_SEL, compile_count, compile_hits, compile_suggest
from search_api.facets import bucket_label
from search_api.model import SearchQuery
from search_api.pg_facets import PRICE_STATS, compile_facets
from search_api.pg_tables import table_of
from search_api.results import FacetStats, Hit, SearchResult, Suggestion, hit_document
from search_api.scope import SearchScope


class PostgresBackend:
    """`SearchBackend` over the index tables; every statement is scoped to the scope's
    tenant."""

    name = "postgres"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def search(self, query: SearchQuery, scope: SearchScope) -> SearchResult:
        started = time.perf_counter()
        hits_sql = compile_hits(query, scope)
        facets_sql = compile_facets(query, scope, price_stats=True)
        async with self.pool.acquire() as conn, conn.transaction(readonly=True):
            rows = await conn.fetch(hits_sql.sql, *hits_sql.params)
            if rows:
                total = int(rows[0]["total"])
            else:
                counted = compile_count(query, scope)
                total = int(await conn.fetchval(counted.sql, *counted.params) or 0)
            facet_rows = ([] if facets_sql is None
                          else await conn.fetch(facets_sql.sql, *facets_sql.params))
        table = table_of(query)
        model = SPECS[query.doc_type].model
        hits = [Hit(id=row[table.key], score=float(row["rank"]) if query.q else None,
                    document=hit_document(model.from_row(row), query),
                    highlights=_highlights(row, table.highlight)) for row in rows]
        facet_stats = {}
        for facet, low, high in facet_rows:
            if facet == PRICE_STATS and low is not None:
                facet_stats["price"] = FacetStats(min=int(low), max=int(high))
        return SearchResult(
            hits=hits, total=total, page=query.page, per_page=query.per_page,
            facets=facet_counts(query, facet_rows), facet_stats=facet_stats,
            took_ms=(time.perf_counter() - started) * 1000, backend=self.name,
        )

    async def suggest(self, doc_type: DocType, prefix: str, scope: SearchScope,
                      limit: int = 8) -> list[Suggestion]:
        compiled = compile_suggest(doc_type, prefix, scope, max(1, min(limit, 50)))
        if compiled is None:
            return []
        async with self.pool.acquire() as conn, conn.transaction(readonly=True):
            rows = await conn.fetch(compiled.sql, *compiled.params)
        words = query_words(prefix)
        return [Suggestion(id=row["id"], title=row["title"],
                           highlighted=mark_prefixes(row["title"], words)) for row in rows]

    async def caught_up(self) -> None:
        """Nothing to do: a committed index row is in every later snapshot."""

    async def ready(self) -> bool:
        try:
            return bool(await self.pool.fetchval("SELECT 1") == 1)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            return False


def facet_counts(query: SearchQuery, rows: list[Any]) -> dict[str, dict[str, int]]:
    """(facet, value, count) rows as {facet: {value: count}}; price rows (minimum price →
    count) are folded into `model.bucket_label` buckets. Every requested facet is present."""
    out: dict[str, dict[str, int]] = {name: {} for name in query.facets}
    buckets: dict[str, int] = defaultdict(int)
    for facet, value, count in rows:
        if facet == PRICE_STATS:
            continue
        if facet == "price":
            buckets[bucket_label(query.price_buckets, int(value))] += int(count)
        else:
            out[facet][str(value)] = int(count)
    if "price" in out:
        out["price"] = dict(buckets)
    return out


def _highlights(row: Any, columns: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for column in columns:
        key = f"hl_{column}"
        fragment = row.get(key)
        if fragment and START_SEL in fragment:
            out[column] = marked_headline(fragment)
    return out
