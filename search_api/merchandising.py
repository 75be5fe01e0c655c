"""Runs a search under a rule plan on any backend, through the backend's ordinary search
(I/O: the backend).

Hidden documents are out of the scope. Boosts and buries split the organic order into tiers
(`rules.tiers`: boosted, the rest, buried), each searched with its tier in the scope and in
the search's usual order; the organic order is the tiers one after the other. Pinned
documents are looked up with the search's filters (a pin the shopper's filters exclude is not
forced in, whatever the text) and placed at their positions over that order, the other hits
keep their order around them. The tiers partition the organic scope, so its total, facet
counts and stats come from one search of it, untiered, plus the pinned documents: they stay
consistent with what is shown.

Cost: the pin lookup and, with tiers, the untiered count (facets, stats and the total, one
hit) run beside the first tier's search, asked for the stretch of the organic order the page
needs whether every pin is found or none (the page widened by the pins before it); the tier
searches count no facets. Without boosts and buries that is the whole search: two backend
searches at once. A later tier is searched only when the page reaches into it (its size is its
search's total; the last tier's is the untiered total less the others'), one after the
other, and the first again when the page needs more of it than the first round fetched.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass

from search_api.backends import SearchBackend
from search_api.facets import facet_order
from search_api.model import SearchQuery
from search_api.results import FacetStats, Hit, SearchResult
from search_api.rules import Plan, page_window, tiers
from search_api.scope import SearchScope

MAX_PAGE_SIZE = 100
"""The largest `per_page` a stretch is fetched with (the query model's bound)."""
UNBOUNDED = 1 << 40
"""An organic total larger than any: the first round supposes every pin is placed where it
asks."""


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


def covering_pages(start: int, count: int) -> tuple[int, list[int]]:
    """The page size and pages that hold positions [start, start+count) of an order: the
    smallest single page of at most `MAX_PAGE_SIZE` when there is one, else consecutive pages
    of `count` (at most `MAX_PAGE_SIZE`) positions (pure)."""
    count = max(count, 1)
    for size in range(count, MAX_PAGE_SIZE + 1):
        if start // size == (start + count - 1) // size:
            return size, [start // size + 1]
    size = min(count, MAX_PAGE_SIZE)
    return size, list(range(start // size + 1, (start + count - 1) // size + 2))


@dataclass
class Stretch:
    """Hits `start`.. of one tier's order, with the tier's total and facets."""

    start: int
    hits: list[Hit]
    result: SearchResult

    def covers(self, start: int, count: int) -> bool:
        return self.start <= start and start + count <= self.start + len(self.hits) or \
            start >= self.result.total

    def take(self, start: int, count: int) -> list[Hit]:
        return self.hits[start - self.start:start - self.start + count]


async def _stretch(backend: SearchBackend, query: SearchQuery, scope: SearchScope,
                   start: int, count: int, facets: bool) -> Stretch:
    """Positions [start, start+count) of the query's order under `scope`: one search of the
    page that covers them, else of the consecutive pages that do (facets only when asked,
    counted by the first)."""
    size, pages = covering_pages(start, count)
    results = await asyncio.gather(*(backend.search(query.model_copy(update={
        "page": page, "per_page": size, **({} if facets and n == 0 else {"facets": []})}),
        scope) for n, page in enumerate(pages)))
    hits = [hit for got in results for hit in got.hits]
    skip = start - (pages[0] - 1) * size
    return Stretch(start, hits[skip:skip + count], results[0])


def _part(start: int, count: int, before: int, size: int | None) -> tuple[int, int]:
    """The part (start within the tier, count) of organic positions [start, start+count)
    that falls in a tier that begins at organic position `before` and holds `size`
    documents (`None`: not known yet, as many as needed) (pure)."""
    first = max(start, before)
    last = start + count if size is None else min(start + count, before + size)
    return first - before, max(0, last - first)


async def search_with_plan(backend: SearchBackend, query: SearchQuery, scope: SearchScope,
                           plan: Plan) -> SearchResult:
    """`query` as the plan has it: filters changed, hidden documents out, the organic order
    tiered by boosts and buries, pins placed."""
    query = plan.query or query
    pin_ids = frozenset(p.id for p in plan.pins)
    if not pin_ids and not plan.hidden and not plan.boost and not plan.bury:
        return await backend.search(query, scope)
    organic = scope.model_copy(update={"exclude_ids": scope.exclude_ids | plan.hidden | pin_ids})
    if not pin_ids and not plan.boost and not plan.bury:
        return await backend.search(query, organic)
    scopes = [organic.model_copy(update={"tier": tier}) for tier in tiers(plan.boost, plan.bury)]
    guess = page_window(plan.pins, UNBOUNDED, query.offset, query.per_page)
    lookup_query = query.model_copy(update={"q": None, "page": 1, "per_page": max(len(pin_ids), 1),
                                            "highlight": False, "sort": "relevance"})
    lookup_scope = scope.model_copy(update={"only_ids": pin_ids,
                                            "exclude_ids": scope.exclude_ids | plan.hidden})
    # from where the organic hits start if every pin is found to where they end if none is
    reach = query.offset + query.per_page - guess.offset
    tiered = len(scopes) > 1
    # tiered: the untiered organic scope counts the total, facets and stats once (the tiers
    # partition it), and the first tier is searched without them
    counting = asyncio.ensure_future(backend.search(query.model_copy(update={
        "page": 1, "per_page": 1, "highlight": False}), organic)) if tiered else None
    looking = asyncio.ensure_future(backend.search(lookup_query, lookup_scope)) \
        if pin_ids else None
    try:
        first = await _stretch(backend, query, scopes[0], guess.offset, reach,
                               facets=not tiered)
        whole = await counting if counting is not None else first.result
    except BaseException:
        for pending in (counting, looking):
            if pending is not None:  # not left running, nor its error unretrieved
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
        raise
    lookup = await looking if looking is not None else None
    found = {hit.id: hit for hit in lookup.hits} if lookup is not None else {}
    pins = [p for p in plan.pins if p.id in found]
    window = page_window(pins, whole.total, query.offset, query.per_page)
    # tier by tier, each searched only when the page reaches into it; its size is its
    # search's total, the last one's the untiered total less the others
    taken: list[Hit] = []
    before = 0
    for i, part in enumerate(scopes):
        if before >= window.offset + window.count:
            break
        size = whole.total - before if i == len(scopes) - 1 else \
            first.result.total if i == 0 else None
        start, count = _part(window.offset, window.count, before, size)
        if i == 0 and first.covers(start, count):
            stretch: Stretch | None = first
        elif count:
            stretch = await _stretch(backend, query, part, start, count, facets=False)
            size = stretch.result.total if size is None else size
            start, count = _part(window.offset, window.count, before, size)
        else:
            stretch = None
        if stretch is not None:
            taken += stretch.take(start, count)
        before += size if size is not None else 0
    rest = iter(taken)
    hits: list[Hit] = []
    for slot in range(window.count + len(window.slots)):
        pinned: uuid.UUID | None = window.slots.get(slot)
        if pinned is not None:
            hits.append(found[pinned])
        else:
            hit = next(rest, None)
            if hit is None:
                break
            hits.append(hit)
    facets: dict[str, dict[str, int]] = {}
    stats: dict[str, FacetStats] = {}
    for got in [whole, *([lookup] if lookup is not None else [])]:
        facets = _merge_facets(facets, got.facets)
        stats = _merge_stats(stats, got.facet_stats)
    return whole.model_copy(update={
        "hits": hits, "total": whole.total + len(pins), "page": query.page,
        "per_page": query.per_page, "facet_stats": stats,
        "facets": {name: facet_order(name, counts) for name, counts in facets.items()}})
