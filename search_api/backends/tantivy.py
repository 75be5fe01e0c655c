"""The embedded search backend: the same contract as the Postgres backend over the Tantivy
indexes of `indexer.tantivy.reader.TantivyReader` (I/O: index files, in a thread).

Queries come from the pure `search_api.compile_tantivy`; facets and price stats are Tantivy
aggregations; explicit sorts are applied in Python over every hit's stored values, so that
`id` breaks ties exactly like PostgreSQL does (Tantivy orders by one fast field only).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import tantivy

from core_write.errors import ValidationFailed
from indexer.model import SPECS, DocType, Document
from indexer.model.engines import match_query, match_words
from indexer.model.text import price_field_pair, title_sort_key
from indexer.tantivy.query import tenant_scoped, words_query
from indexer.tantivy.reader import TantivyReader
from search_api.backends.highlight import QueryWords, mark_ranges
from search_api.compile_tantivy import (
    DATE_SORTS,
    aggregations,
    any_of,
    clauses,
    facet_values,
    fast_sort,
    price_stats,
    scoped,
)
from search_api.model import SearchQuery
from search_api.results import FacetStats, Hit, SearchResult, Suggestion, hit_document
from search_api.scope import SearchScope


class TantivyBackend:
    """`SearchBackend` over a started `TantivyReader`."""

    name = "tantivy"

    def __init__(self, reader: TantivyReader) -> None:
        self.reader = reader
        self.currencies = tuple(reader.config.currencies)
        # one search thread per core (asyncio's default pool has cores + 4): more threads
        # only fight over the GIL for the Python half of a search (compiling, mapping hits)
        # while Tantivy's half already keeps the cores busy. At 100k products this took the
        # API from 55% to 65-83% of the raw engine's rate
        self._threads = ThreadPoolExecutor(max_workers=os.cpu_count() or 1,
                                           thread_name_prefix="tantivy-search")

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
            result = await asyncio.get_running_loop().run_in_executor(
                self._threads, self._search, index, query, scope)
        return result.model_copy(update={"took_ms": (time.perf_counter() - started) * 1000})

    def _search(self, index: tantivy.Index, query: SearchQuery,
                scope: SearchScope) -> SearchResult:
        named = clauses(index, query, scope, self.currencies)
        main = scoped(index.schema, scope, named)
        # the same hits without the ranking's work, where no score is read
        unscored = clauses(index, query, scope, self.currencies, scored=False)
        matching = scoped(index.schema, scope, unscored)
        searcher = index.searcher()
        try:
            total, page = _page(searcher, index.schema, main, matching, query, scope,
                                self.currencies)
            facets, stats = self._aggregate(searcher, index.schema, query, scope, unscored,
                                            matching)
        except ValueError as exc:
            raise ValidationFailed("q", f"cannot run this query: {exc}") from None
        highlighters = self._highlighters(searcher, index.schema, query, scope,
                                          [doc for _, doc, _ in page])
        hits = []
        for score, doc, document in page:
            marks = {}
            for field, generator in highlighters.items():
                snippet = generator.snippet_from_doc(doc)
                ranges = [(r.start, r.end) for r in snippet.highlighted()]
                if ranges:
                    marks[field] = mark_ranges(snippet.fragment(), ranges)
            hits.append(Hit(id=uuid.UUID(document.id), score=score if query.q else None,
                            document=hit_document(document, query), highlights=marks))
        return SearchResult(hits=hits, total=total, page=query.page, per_page=query.per_page,
                            facets=facets, facet_stats=stats, backend=self.name)

    def _aggregate(self, searcher: tantivy.Searcher, schema: tantivy.Schema,
                   query: SearchQuery, scope: SearchScope,
                   named: list[tuple[str, tantivy.Query]], main: tantivy.Query,
                   ) -> tuple[dict[str, dict[str, int]], dict[str, FacetStats]]:
        results: dict[str, Any] = {}
        for target, request in aggregations(schema, query, scope, named, main,
                                            self.currencies):
            results.update(searcher.aggregate(target, request))
        facets = {name: facet_values(query, name, results.get(name, {}))
                  for name in query.facets}
        bounds = price_stats(query, results, self.currencies)
        stats = {} if bounds is None else {"price": FacetStats(min=bounds[0], max=bounds[1])}
        return facets, stats

    def _highlighters(self, searcher: tantivy.Searcher, schema: tantivy.Schema,
                      query: SearchQuery, scope: SearchScope, docs: list[tantivy.Document],
                      ) -> dict[str, tantivy.SnippetGenerator]:
        """Per highlighted field, a snippet generator over the words of the page's documents
        that match the query (exact, stem, prefix or typo matches alike: the automata's
        terms are not known to Tantivy's snippets, so the words are matched here)."""
        if not query.highlight or not query.q:
            return {}
        words = QueryWords(query.q, scope.language)
        out = {}
        for field in SPECS[query.doc_type].highlight:
            terms = {term for doc in docs for value in doc.get_all(field)
                     for _, _, term in words.matches(str(value))}
            if not terms:
                continue
            text = tantivy.Query.boolean_query([
                (tantivy.Occur.Should, tantivy.Query.term_query(schema, field, term))
                for term in sorted(terms)])
            generator = tantivy.SnippetGenerator.create(searcher, text, schema, field)
            if field == "title":
                generator.set_max_num_chars(1000)  # the whole title, like ts_headline
            out[field] = generator
        return out

    async def suggest(self, doc_type: DocType, prefix: str, scope: SearchScope,
                      limit: int = 8) -> list[Suggestion]:
        """Titles matching `prefix` by the rules of search (its last word a prefix unless
        followed by a space, typos), ranked like search."""
        index = self.reader.index(doc_type)
        if not match_words(prefix) or index is None:
            return []
        limit = max(1, min(limit, 50))
        rows = await asyncio.get_running_loop().run_in_executor(
            self._threads, _suggest, index, prefix, scope, limit)
        words = QueryWords(prefix, scope.language)
        return [Suggestion(id=uuid.UUID(doc_id), title=title, highlighted=words.mark(title))
                for doc_id, title in rows]

    async def caught_up(self) -> None:
        """Reload what the writer committed (the commit counters) now, rather than when the
        commit channel's message, or the reader's fallback poll, gets to it: the engine queue
        empties only after the commit and its counters moved."""
        await self.reader.refresh()

    async def ready(self) -> bool:
        return self.reader.index("product") is not None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Page = list[tuple[float, tantivy.Document, Document]]
"""(score, stored document for the highlighters, its document model) of each hit."""


def _document(doc_type: DocType, doc: tantivy.Document, currencies: Sequence[str]) -> Document:
    """The one mapping of a stored hit to its document model."""
    return SPECS[doc_type].model.from_tantivy(doc.to_dict(), currencies)


def _sort_value(document: Document, query: SearchQuery) -> Any:
    """The exact sort value of a hit (the fast sorts read theirs from the fast field)."""
    name = query.sort.split(":")[0]
    if name == "price":
        price = getattr(document, "prices", {}).get(query.price_currency or "")
        return None if price is None else price["min"]
    if name == "title":
        return title_sort_key(document.title)
    value = getattr(document, name, None)
    return None if value is None else datetime.fromisoformat(value)


Row = tuple[str, Any, tantivy.DocAddress, tantivy.Document, Document]
"""(id, exact sort value or None, address, stored document, its model) of a candidate."""


def _in_order(rows: list[Row], desc: bool) -> list[Row]:
    """By the sort value (missing values last, both directions), then id ascending: the
    order of PostgreSQL's `ORDER BY value [DESC] NULLS LAST, id`."""
    rows.sort(key=lambda row: row[0])
    present = [row for row in rows if row[1] is not None]
    present.sort(key=lambda row: row[1], reverse=desc)  # stable: ties keep the id order
    return present + [row for row in rows if row[1] is None]


def _page(searcher: tantivy.Searcher, schema: tantivy.Schema, main: tantivy.Query,
          matching: tantivy.Query, query: SearchQuery, scope: SearchScope,
          currencies: Sequence[str]) -> tuple[int, Page]:
    """The hits of the page in order and the total (`matching`: the same hits as `main`,
    unscored). With the tenant's `in_stock_first` (ranking tier 0, products), the in-stock
    hits come first, then the others, each part in the query's order: Tantivy orders by one
    key only (the score or a fast field), so the two parts are searched apart (the stock
    clause scores 0: the same scores) and the page is cut across their boundary by their
    counts."""
    if query.doc_type != "product" or not scope.in_stock_first:
        return _part_page(searcher, schema, main, matching, query, currencies,
                          query.offset, query.per_page)
    in_stock = tantivy.Query.const_score_query(
        tantivy.Query.term_query(schema, "has_stock", True), 0.0)

    def split(whole: tantivy.Query) -> list[tantivy.Query]:
        return [tantivy.Query.boolean_query([(tantivy.Occur.Must, whole),
                                             (tantivy.Occur.Must, in_stock)]),
                tantivy.Query.boolean_query([(tantivy.Occur.Must, whole),
                                             (tantivy.Occur.MustNot, in_stock)])]

    total, page = 0, Page()
    for part, unscored in zip(split(main), split(matching), strict=True):
        # before this part: `total` hits; the page still starts `offset - total` into it
        start, want = max(0, query.offset - total), query.per_page - len(page)
        if want > 0:
            count, rows = _part_page(searcher, schema, part, unscored, query, currencies,
                                     start, want)
        else:
            # only its count: scoring it would cost as much again
            counted: Any = searcher.search(tantivy.Query.const_score_query(unscored, 0.0), 1,
                                           count=True)
            count, rows = int(counted.count or 0), []
        total += count
        page += rows
    return total, page


def _part_page(searcher: tantivy.Searcher, schema: tantivy.Schema, query_obj: tantivy.Query,
               matching: tantivy.Query, query: SearchQuery, currencies: Sequence[str],
               offset: int, limit: int) -> tuple[int, Page]:
    """`limit` hits from `offset` in the query's order (relevance or its explicit sort)."""
    if query.sort == "relevance":
        found: Any = searcher.search(query_obj, limit, count=True, offset=offset)
        return int(found.count or 0), [
            (float(score), doc, _document(query.doc_type, doc, currencies))
            for score, doc in ((s, searcher.doc(a)) for s, a in found.hits)]
    return _sorted_page(searcher, schema, query_obj, matching, query, currencies, offset,
                        limit)


def _sorted_page(searcher: tantivy.Searcher, schema: tantivy.Schema,
                 query_obj: tantivy.Query, matching: tantivy.Query, query: SearchQuery,
                 currencies: Sequence[str], offset: int | None = None,
                 limit: int | None = None) -> tuple[int, Page]:
    """One page of hits ordered by the sort value (missing values last) then id ascending:
    `limit` hits from `offset` (by default the query's page); the candidates from `matching`
    (the same hits unscored), the page's scores from `query_obj`."""
    offset = query.offset if offset is None else offset
    limit = query.per_page if limit is None else limit
    if query.sort.startswith("price"):
        price_field_pair(query.price_currency, currencies, "currency")
    desc = query.sort.endswith(":desc")
    fast = fast_sort(query)
    if fast is not None:
        total, rows = _fast_candidates(searcher, schema, matching, query, fast, currencies,
                                       offset + limit)
    else:
        total, rows = _all_candidates(searcher, matching, query, currencies)
    chosen = _in_order(rows, desc)[offset:offset + limit]
    scores = _scores(searcher, schema, query_obj, query, chosen)
    return total, [(score, row[3], row[4]) for score, row in zip(scores, chosen, strict=True)]


def _all_candidates(searcher: tantivy.Searcher, query_obj: tantivy.Query,
                    query: SearchQuery, currencies: Sequence[str]) -> tuple[int, list[Row]]:
    """Every hit with its stored sort value (for sorts without a fast key)."""
    counted: Any = searcher.search(query_obj, 1, count=True)
    total = int(counted.count or 0)
    if total == 0:
        return 0, []
    rows = []
    for _, address in searcher.search(query_obj, total, count=False).hits:
        doc = searcher.doc(address)
        document = _document(query.doc_type, doc, currencies)
        rows.append((document.id, _sort_value(document, query), address, doc, document))
    return total, rows


def _fast_candidates(searcher: tantivy.Searcher, schema: tantivy.Schema,
                     query_obj: tantivy.Query, query: SearchQuery,
                     fast: tuple[str, tantivy.Order], currencies: Sequence[str],
                     need: int) -> tuple[int, list[Row]]:
    """A superset of the first `need` hits in the exact order: the top hits by the fast
    field, plus every hit sharing the last one's key (ties are broken by id, which Tantivy
    does not know). Only those hits are read from the store."""
    field, order = fast
    found: Any = searcher.search(query_obj, need, count=True, order_by_field=field,
                                 order=order)
    total = int(found.count or 0)
    hits: list[tuple[Any, tantivy.DocAddress]] = list(found.hits)
    if len(hits) == need and need < total:
        boundary = hits[-1][0]
        hits = [hit for hit in hits if hit[0] != boundary]
        hits += _ties(searcher, schema, query_obj, field, boundary)
    rows = []
    for key, address in hits:
        doc = searcher.doc(address)
        exact = doc.get_first(field) if field in DATE_SORTS and key is not None else key
        document = _document(query.doc_type, doc, currencies)
        rows.append((document.id, exact, address, doc, document))
    return total, rows


def _ties(searcher: tantivy.Searcher, schema: tantivy.Schema, query_obj: tantivy.Query,
          field: str, key: Any) -> list[tuple[Any, tantivy.DocAddress]]:
    """Every hit whose fast `field` equals `key` (None: has no value)."""
    if key is None:
        same = tantivy.Query.boolean_query([
            (tantivy.Occur.Must, query_obj),
            (tantivy.Occur.MustNot, tantivy.Query.exists_query(field))])
    else:
        kind = tantivy.FieldType.Integer
        bound: Any = key
        if field in DATE_SORTS:  # the key is in nanoseconds
            kind, bound = tantivy.FieldType.Date, _EPOCH + timedelta(microseconds=key // 1000)
        exact = tantivy.Query.range_query(schema, field, kind,
                                          lower_bound=bound, upper_bound=bound)
        same = tantivy.Query.boolean_query([(tantivy.Occur.Must, query_obj),
                                            (tantivy.Occur.Must, exact)])
    limit = 64
    while True:
        found: Any = searcher.search(same, limit, count=True)
        if int(found.count or 0) <= limit:
            return [(key, address) for _, address in found.hits]
        limit = int(found.count)


def _scores(searcher: tantivy.Searcher, schema: tantivy.Schema, query_obj: tantivy.Query,
            query: SearchQuery, rows: list[Row]) -> list[float]:
    """The text relevance of each chosen hit (0 without text): the query re-run on the page's
    ids, so a sorted page carries the same scores as an unsorted one."""
    if not query.q or not rows:
        return [0.0] * len(rows)
    on_page = tantivy.Query.boolean_query([
        (tantivy.Occur.Must, query_obj),
        (tantivy.Occur.Must, tantivy.Query.const_score_query(
            any_of(schema, "id", [row[0] for row in rows]), 0.0))])
    found = {(address.segment_ord, address.doc): float(score)
             for score, address in searcher.search(on_page, len(rows), count=False).hits}
    return [found.get((row[2].segment_ord, row[2].doc), 0.0) for row in rows]


def _suggest(index: tantivy.Index, text: str, scope: SearchScope,
             limit: int) -> list[tuple[str, str]]:
    schema = index.schema
    words, prefix = match_query(text)
    titles = words_query(schema, words, language=scope.language, titles_only=True,
                         prefix=prefix)
    parts = [(tantivy.Occur.Must, titles)]
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
