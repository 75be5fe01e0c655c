"""The embedded search backend: the same contract as the Postgres backend over the Tantivy
indexes of `indexer.tantivy.reader.TantivyReader` (I/O: index files, in a thread).

Queries come from the pure `search_api.compile_tantivy`; facets and price stats are Tantivy
aggregations; explicit sorts are applied in Python over every hit's stored values, so that
`id` breaks ties exactly like PostgreSQL does (Tantivy orders by one fast field only).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import tantivy

from core_write.errors import ValidationFailed
from indexer.tantivy.query import tenant_scoped
from indexer.tantivy.reader import TantivyReader
from indexer.tantivy.schema import price_fields, stored_values
from search_api.backends.documents import from_stored, mark_prefixes, mark_ranges
from search_api.compile_pg import FUZZY_MIN_LETTERS, query_words
from search_api.compile_tantivy import (
    EXACT_BOOST,
    OWN_FILTER,
    clauses,
    facet_aggregation,
    facet_values,
    price_field_pair,
    scoped,
    user_text,
)
from search_api.model import (
    DocType,
    FacetStats,
    Hit,
    SearchQuery,
    SearchResult,
    SearchScope,
    Suggestion,
)

HIGHLIGHT_FIELDS: dict[str, tuple[str, ...]] = {"product": ("title", "description"),
                                                "content": ("title", "body_preview")}


class TantivyBackend:
    """`SearchBackend` over a started `TantivyReader`."""

    name = "tantivy"

    def __init__(self, reader: TantivyReader) -> None:
        self.reader = reader
        self.currencies = tuple(reader.config.currencies)

    async def search(self, query: SearchQuery, scope: SearchScope) -> SearchResult:
        started = time.perf_counter()
        if query.price_currency is not None and query.doc_type == "product" and (
                query.sort.startswith("price") or "price" in query.facets):
            price_field_pair(query.price_currency, self.currencies, "currency")
        index = self.reader.index(query.doc_type)
        if index is None:
            result = SearchResult(hits=[], total=0, page=query.page, per_page=query.per_page,
                                  facets={name: {} for name in query.facets},
                                  backend=self.name)
        else:
            result = await asyncio.to_thread(self._search, index, query, scope)
        return result.model_copy(update={"took_ms": (time.perf_counter() - started) * 1000})

    def _search(self, index: tantivy.Index, query: SearchQuery,
                scope: SearchScope) -> SearchResult:
        named = clauses(index, query, scope, self.currencies)
        main = scoped(index.schema, scope, named)
        searcher = index.searcher()
        try:
            if query.sort == "relevance":
                found: Any = searcher.search(main, query.per_page, count=True,
                                             offset=query.offset)
                total = int(found.count or 0)
                page = [(float(score), searcher.doc(address)) for score, address in found.hits]
            else:
                total, page = _sorted_page(searcher, main, query, self.currencies)
            facets = self._facets(searcher, index.schema, query, scope, named, main)
            stats = self._price_stats(searcher, index.schema, query, scope, named)
        except ValueError as exc:
            raise ValidationFailed("q", f"cannot run this query: {exc}") from None
        highlighters = self._highlighters(searcher, index, query)
        hits = []
        for score, doc in page:
            stored = stored_values(query.doc_type, doc.to_dict())
            marks = {}
            for field, generator in highlighters.items():
                snippet = generator.snippet_from_doc(doc)
                ranges = [(r.start, r.end) for r in snippet.highlighted()]
                if ranges:
                    marks[field] = mark_ranges(snippet.fragment(), ranges)
            hits.append(Hit(id=uuid.UUID(str(stored["id"])),
                            score=score if query.q else None,
                            document=from_stored(query.doc_type, stored, self.currencies),
                            highlights=marks))
        return SearchResult(hits=hits, total=total, page=query.page, per_page=query.per_page,
                            facets=facets, facet_stats=stats, backend=self.name)

    def _facets(self, searcher: tantivy.Searcher, schema: tantivy.Schema, query: SearchQuery,
                scope: SearchScope, named: list[tuple[str, tantivy.Query]],
                main: tantivy.Query) -> dict[str, dict[str, int]]:
        set_filters = {name for name, _ in named}
        by_query: dict[str | None, list[str]] = {}
        for name in query.facets:
            own = OWN_FILTER.get(name)
            by_query.setdefault(own if own in set_filters else None, []).append(name)
        out: dict[str, dict[str, int]] = {}
        for skip, names in by_query.items():
            target = main if skip is None else scoped(schema, scope, named, skip=skip)
            request = {name: facet_aggregation(query, name, self.currencies) for name in names}
            result = searcher.aggregate(target, request)
            for name in names:
                out[name] = facet_values(query, name, result.get(name, {}))
        return {name: out[name] for name in query.facets}

    def _price_stats(self, searcher: tantivy.Searcher, schema: tantivy.Schema,
                     query: SearchQuery, scope: SearchScope,
                     named: list[tuple[str, tantivy.Query]]) -> dict[str, FacetStats]:
        currency = query.price_currency
        if query.doc_type != "product" or currency is None or currency not in self.currencies:
            return {}
        low, high = price_fields(currency)
        target = scoped(schema, scope, named, skip="price")
        result = searcher.aggregate(target, {"low": {"stats": {"field": low}},
                                             "high": {"stats": {"field": high}}})
        if not result["low"].get("count"):
            return {}
        return {"price": FacetStats(min=int(result["low"]["min"]),
                                    max=int(result["high"]["max"]))}

    def _highlighters(self, searcher: tantivy.Searcher, index: tantivy.Index,
                      query: SearchQuery) -> dict[str, tantivy.SnippetGenerator]:
        if not query.highlight or not query.q:
            return {}
        text = user_text(index, query.doc_type, query.q)
        out = {}
        for field in HIGHLIGHT_FIELDS[query.doc_type]:
            generator = tantivy.SnippetGenerator.create(searcher, text, index.schema, field)
            if field == "title":
                generator.set_max_num_chars(1000)  # the whole title, like ts_headline
            out[field] = generator
        return out

    async def suggest(self, doc_type: DocType, prefix: str, scope: SearchScope,
                      limit: int = 8) -> list[Suggestion]:
        words = query_words(prefix)
        index = self.reader.index(doc_type)
        if not words or index is None:
            return []
        limit = max(1, min(limit, 50))
        rows = await asyncio.to_thread(_suggest, index, words, scope, limit)
        return [Suggestion(id=uuid.UUID(doc_id), title=title,
                           highlighted=mark_prefixes(title, words)) for doc_id, title in rows]

    async def ready(self) -> bool:
        return self.reader.index("product") is not None


def _sort_value(doc: dict[str, Any], query: SearchQuery) -> Any:
    name = query.sort.split(":")[0]
    if name == "price":
        low, _ = price_fields(query.price_currency or "")
        return doc.get(low)
    if name == "title":
        title = doc.get("title")
        return None if title is None else title.strip(" ").lower()
    value = doc.get(name)
    return value if isinstance(value, datetime) else None


def _sorted_page(searcher: tantivy.Searcher, query_obj: tantivy.Query, query: SearchQuery,
                 currencies: Sequence[str]) -> tuple[int, list[tuple[float, tantivy.Document]]]:
    """Every hit ordered by the sort value (missing values last) then id ascending."""
    if query.sort.startswith("price"):
        price_field_pair(query.price_currency, currencies, "currency")
    counted: Any = searcher.search(query_obj, 1, count=True)
    total = int(counted.count or 0)
    if total == 0:
        return 0, []
    rows = []
    for score, address in searcher.search(query_obj, total, count=False).hits:
        doc = searcher.doc(address)
        values = stored_values(query.doc_type, doc.to_dict())
        rows.append((str(values["id"]), _sort_value(values, query), float(score), doc))
    rows.sort(key=lambda row: row[0])
    present = [row for row in rows if row[1] is not None]
    present.sort(key=lambda row: row[1], reverse=query.sort.endswith(":desc"))  # stable
    ordered = present + [row for row in rows if row[1] is None]
    chosen = ordered[query.offset:query.offset + query.per_page]
    return total, [(score, doc) for _, _, score, doc in chosen]


def _suggest(index: tantivy.Index, words: list[str], scope: SearchScope,
             limit: int) -> list[tuple[str, str]]:
    schema = index.schema
    *head, last = words
    exact = [(tantivy.Occur.Must, tantivy.Query.term_query(schema, "title", w)) for w in head]
    prefixed = tantivy.Query.boolean_query(
        [*exact, (tantivy.Occur.Must, tantivy.Query.regex_query(schema, "title", f"{last}.*"))])
    options = [(tantivy.Occur.Should, tantivy.Query.boost_query(prefixed, EXACT_BOOST))]
    if len(last) >= FUZZY_MIN_LETTERS:
        near = tantivy.Query.fuzzy_term_query(schema, "title", last, 1, True, True)
        options.append((tantivy.Occur.Should, tantivy.Query.boolean_query(
            [*exact, (tantivy.Occur.Must, near)])))
    parts = [(tantivy.Occur.Must, tantivy.Query.boolean_query(options))]
    if not scope.include_drafts:
        parts.append((tantivy.Occur.Must, tantivy.Query.const_score_query(
            tantivy.Query.term_query(schema, "status", "published"), 0.0)))
    query = tenant_scoped(schema, scope.tenant_id, tantivy.Query.boolean_query(parts))
    searcher = index.searcher()
    out = []
    for _, address in searcher.search(query, limit, count=False).hits:
        doc = searcher.doc(address)
        title = doc.get_first("title")
        if title:
            out.append((str(doc.get_first("id")), str(title)))
    return out
