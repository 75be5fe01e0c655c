"""Runs a search under a rule plan on any backend, through the backend's ordinary search
(I/O: the backend): hidden documents are out of the scope; pinned documents are looked up
with the search's filters (a pin the shopper's filters exclude is not forced in, whatever the
text) and placed at their positions, the other hits keep their order around them; totals and
facet counts are those of the hits plus the pinned documents, so they stay consistent with
what is shown."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from search_api.model import FacetStats, Hit, SearchBackend, SearchQuery, SearchResult, SearchScope
from search_api.rules import Pin, Plan, page_window


def _merge_facets(a: dict[str, dict[str, int]], b: dict[str, dict[str, int]]
                  ) -> dict[str, dict[str, int]]:
    out = {name: dict(values) for name, values in a.items()}
    for name, values in b.items():
        into = out.setdefault(name, {})
        for value, count in values.items():
            into[value] = into.get(value, 0) + count
    return out


def _merge_stats(a: dict[str, FacetStats], b: dict[str, FacetStats]
                 ) -> dict[str, FacetStats]:
    out = dict(a)
    for name, stats in b.items():
        have = out.get(name)
        out[name] = stats if have is None else FacetStats(min=min(have.min, stats.min),
                                                          max=max(have.max, stats.max))
    return out


async def _organic_range(backend: SearchBackend, query: SearchQuery, scope: SearchScope,
                         first: SearchResult, start: int, count: int) -> list[Hit]:
    """`count` hits from position `start` of the organic order, fetched by pages of the
    query's size (the page already fetched is reused)."""
    size = query.per_page
    pages: dict[int, list[Hit]] = {query.page: list(first.hits)}
    out: list[Hit] = []
    position = start
    while len(out) < count:
        page = position // size + 1
        if page not in pages:
            more = await backend.search(
                query.model_copy(update={"page": page, "facets": []}), scope)
            pages[page] = list(more.hits)
        chunk = pages[page][position - (page - 1) * size:]
        if not chunk:
            break
        take = chunk[:count - len(out)]
        out += take
        position += len(take)
    return out


async def search_with_plan(backend: SearchBackend, query: SearchQuery, scope: SearchScope,
                           plan: Plan) -> SearchResult:
    """`query` as the plan has it: filters changed, hidden documents out, pins placed."""
    query = plan.query or query
    pin_ids = frozenset(p.id for p in plan.pins)
    if not pin_ids and not plan.hidden:
        return await backend.search(query, scope)
    organic_scope = scope.model_copy(update={
        "exclude_ids": scope.exclude_ids | plan.hidden | pin_ids})
    first = await backend.search(query, organic_scope)
    if not pin_ids:
        return first
    lookup = await backend.search(
        query.model_copy(update={"q": None, "page": 1, "per_page": len(pin_ids),
                                 "highlight": False, "sort": "relevance"}),
        scope.model_copy(update={"only_ids": pin_ids,
                                 "exclude_ids": scope.exclude_ids | plan.hidden}))
    found = {hit.id: hit for hit in lookup.hits}
    pins: Sequence[Pin] = [p for p in plan.pins if p.id in found]
    window = page_window(pins, first.total, query.offset, query.per_page)
    organic = await _organic_range(backend, query, organic_scope, first, window.offset,
                                   window.count)
    hits: list[Hit] = []
    rest = iter(organic)
    for slot in range(window.count + len(window.slots)):
        pinned: uuid.UUID | None = window.slots.get(slot)
        if pinned is not None:
            hits.append(found[pinned])
        else:
            hit = next(rest, None)
            if hit is None:
                break
            hits.append(hit)
    return first.model_copy(update={
        "hits": hits, "total": first.total + len(pins),
        "facets": _merge_facets(first.facets, lookup.facets),
        "facet_stats": _merge_stats(first.facet_stats, lookup.facet_stats)})
