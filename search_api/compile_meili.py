"""Compiles a `SearchQuery` + `SearchScope` into Meilisearch multi-search requests, and maps
their responses back to the common `SearchResult` (pure: no I/O).

The tenant is the index (`indexer.meili.config.index_uid`), never a filter, so no filter text
can reach another tenant. User values only ever appear inside double-quoted filter strings,
with `\\` and `"` escaped; numbers are formatted from validated ints.

A search costs Meilisearch as few queries as the answer allows (each query of a multi-search
runs the text search again): facets ignore their own filter (disjunctive faceting), so the
facets are grouped by the filter they are counted under, and every group whose filter equals
another's shares its query, the page's included. Price buckets and `facet_stats` come from
the distribution and stats of the currency's price fields over the query without its price
filter, in the same grouping (the page's query when no price filter is set): a bucket is the
sum of the counts of the distinct prices in it. Only when a price field has more distinct
values in the hits than Meilisearch counts (`MAX_FACET_VALUES`) do the buckets take a second
round trip, one counting query per bucket (`followup`). The same semantics as the
Tantivy and Postgres backends.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from core_write.errors import ValidationFailed
from indexer.meili.config import index_uid
from indexer.meili.documents import MAX_FACET_VALUES
from indexer.model import SPECS, DocType
from indexer.model.engines import micros
from indexer.model.text import identifier_key, price_field_pair
from search_api.backends.highlight import marked_headline
from search_api.facets import OWN_FILTER
from search_api.filters import ContentFilter, FilterTest, ProductFilter, option_groups
from search_api.model import SearchQuery
from search_api.results import FacetStats, Hit, SearchResult, hit_document
from search_api.scope import SearchScope

PRE, POST = "\u27e6", "\u27e7"
"""Highlight delimiters: never HTML, so fragments can be escaped before marks go in."""
CROP_WORDS = 30

Role = Literal["main", "count", "bucket", "identified", "identified_text"]
Clauses = list[tuple[str, str]]


def quote(value: object) -> str:
    """A filter string literal: the value in double quotes, `\\` and `"` escaped."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def any_of(attribute: str, values: Sequence[object]) -> str:
    return f"{attribute} IN [{', '.join(quote(v) for v in values)}]"


def all_of(parts: Sequence[str]) -> str | None:
    """The conjunction of filter expressions, each parenthesized (None when empty)."""
    if not parts:
        return None
    return " AND ".join(f"({part})" for part in parts)


@dataclass(frozen=True)
class Request:
    """One query of a multi-search, with what its response is for."""

    role: Role
    """`main`: the page (and the facets counted under the full filter); `count`: facet counts
    only; `bucket`: the number of hits in one price bucket (`bucket_fallback`)."""
    params: dict[str, Any]
    """SearchParams fields (snake_case, as `meilisearch_python_sdk.models.search`)."""
    facets: tuple[str, ...] = ()
    """The query's facet names (not `price`) this response counts."""
    price: tuple[str, str] | None = None
    """The currency's (low, high) price fields this response counts: their stats are the
    price `facet_stats`, the low field's distribution the price buckets."""
    bucket: str | None = None


@dataclass(frozen=True)
class Plan:
    query: SearchQuery
    uid: str
    requests: list[Request] = field(default_factory=list)


def clauses(query: SearchQuery, scope: SearchScope, currencies: Sequence[str]) -> Clauses:
    """Named filter expressions of the query (the tenant is the index, not a clause)."""
    out: Clauses = []
    flt = query.filter
    statuses = scope.statuses(query)
    if statuses is not None:
        out.append(("status", any_of("status", statuses)))
    if scope.only_ids is not None:
        out.append(("ids", any_of("id", sorted(scope.only_ids))))
    if scope.exclude_ids:
        out.append(("not_ids", f"NOT ({any_of('id', sorted(scope.exclude_ids))})"))
    if scope.tier:
        out.append(("tier", _tier(scope, currencies)))
    if flt is not None:
        out += _filter_clauses(flt, currencies)
    return out


def _filter_clauses(flt: ProductFilter | ContentFilter, currencies: Sequence[str]) -> Clauses:
    """Named filter expressions of one filter (`status` aside: the scope's statuses)."""
    out: Clauses = []
    if isinstance(flt, ProductFilter):
        if flt.categories:
            out.append(("categories", any_of("category_ids", flt.categories)))
        if flt.tags:
            out.append(("tags", any_of("tags", flt.tags)))
        if flt.price is not None:
            low, high = price_field_pair(flt.price.currency, currencies,
                                         "filter.price.currency")
            parts = [f"{low} EXISTS"]
            if flt.price.min is not None:  # overlap: the product's max reaches the range
                parts.append(f"{high} >= {int(flt.price.min)}")
            if flt.price.max is not None:
                parts.append(f"{low} <= {int(flt.price.max)}")
            out.append(("price", " AND ".join(parts)))
        if flt.has_stock is not None:
            out.append(("has_stock", f"has_stock = {'true' if flt.has_stock else 'false'}"))
        if flt.options:
            out.append(("options", " AND ".join(
                f"({any_of('option_values', group)})" for group in option_groups(flt.options))))
    elif isinstance(flt, ContentFilter):
        if flt.kind:
            out.append(("kind", any_of("kind", flt.kind)))
        if flt.categories:
            out.append(("categories", any_of("category_id", flt.categories)))
        if flt.tags:
            out.append(("tags", any_of("tags", flt.tags)))
        if flt.author:
            out.append(("author", any_of("author_id", flt.author)))
        if flt.published is not None:
            parts = ["published_at_us EXISTS"]
            if flt.published.gte is not None:
                parts.append(f"published_at_us >= {micros(flt.published.gte)}")
            if flt.published.lte is not None:
                parts.append(f"published_at_us <= {micros(flt.published.lte)}")
            out.append(("published", " AND ".join(parts)))
    return out


def _tier(scope: SearchScope, currencies: Sequence[str]) -> str:
    """The scope's merchandising tier (`SearchScope.tier`) as one expression. `NOT` is the
    complement in Meilisearch (a document without the field does not match the filter)."""
    def matches(flt: ProductFilter | ContentFilter) -> str:
        try:
            parts = _filter_clauses(flt, currencies)
        except ValidationFailed:  # a price in a currency this engine has no fields for
            return "NOT id EXISTS"
        if flt.status:
            parts.append(("status", any_of("status", flt.status)))
        return all_of([expr for _, expr in parts]) or "id EXISTS"

    def test(t: FilterTest) -> str:
        found = " OR ".join(f"({matches(flt)})" for flt in t.filters) or "NOT id EXISTS"
        return f"NOT ({found})" if t.negate else f"({found})"

    return " AND ".join("(" + " OR ".join(test(t) for t in group) + ")"
                        for group in scope.tier)


IDENTIFIER_ATTRIBUTE: dict[DocType, str] = {"product": "identifiers", "content": "slug"}
"""The filterable attribute holding a document's identifiers (product: lowercased handle,
SKUs, barcodes; content: its slug)."""


def identifier_match(query: SearchQuery) -> str | None:
    """The filter of the documents the whole query identifies (exactly, case-insensitively:
    `text.identifier_key`); None without text. Meilisearch cannot OR a filter with the text
    match, so `plan` asks for these documents in a query of their own and `result` puts them
    first (relevance order only)."""
    key = identifier_key(query.q)
    if key is None:
        return None
    return f"{IDENTIFIER_ATTRIBUTE[query.doc_type]} = {quote(key)}"


def _filter(named: Clauses, skip: str | None = None, extra: str | None = None) -> str | None:
    parts = [expr for name, expr in named if name != skip]
    if extra is not None:
        parts.append(extra)
    return all_of(parts)


def sort_spec(query: SearchQuery, currencies: Sequence[str],
              scope: SearchScope | None = None) -> list[str] | None:
    """Meilisearch `sort`: for an explicit sort the value (missing values last), then id;
    with the tenant's `in_stock_first` (products) `in_stock:desc` before it, and alone for
    relevance (the `sort` ranking rule comes first, the relevance rules then order each
    part). None: relevance only."""
    first = (["in_stock:desc"] if scope is not None and scope.in_stock_first
             and query.doc_type == "product" else [])
    if query.sort == "relevance":
        return first or None
    name, direction = query.sort.split(":")
    if name == "price":
        attribute, _ = price_field_pair(query.price_currency, currencies, "currency")
    elif name == "title":
        attribute = "title_sort"
    else:
        attribute = f"{name}_us"
    return [*first, f"{attribute}:{direction}", "id:asc"]


def _count_params(uid: str, query: SearchQuery, flt: str | None,
                  facets: list[str] | None = None) -> dict[str, Any]:
    """A query that only counts: `page=0` returns no documents (limit 0) but exhaustive
    `totalHits` and facet counts (Meilisearch's documented way)."""
    return {"index_uid": uid, "query": query.q, "filter": flt, "facets": facets, "page": 0,
            "hits_per_page": 1, "matching_strategy": "all", "attributes_to_retrieve": ["id"]}


def bucket_ranges(bounds: Sequence[int]) -> list[tuple[str, int | None, int | None]]:
    """(label, from inclusive, to exclusive) of each price bucket, as `model.bucket_label`."""
    edges: list[int | None] = [None, *bounds, None]
    out = []
    for low, high in zip(edges, edges[1:], strict=False):
        label = f"{low or 0}-{high}" if high is not None else f"{low}+"
        out.append((label, low, high))
    return out


def plan(query: SearchQuery, scope: SearchScope, prefix: str,
         currencies: Sequence[str]) -> Plan:
    """Every request one search needs, in one multi-search: the page's query, then one
    counting query per other filter some facets are counted under."""
    uid = index_uid(prefix, scope.tenant_id, query.doc_type)
    named = clauses(query, scope, currencies)
    set_filters = {name for name, _ in named}
    full = _filter(named)
    # filter → the facet names counted under it (the full filter's: in the page's query)
    groups: dict[str | None, list[str]] = {full: []}
    for name in query.facets:
        if name == "price":
            continue
        own = OWN_FILTER.get(name)
        groups.setdefault(_filter(named, own) if own in set_filters else full, []).append(name)
    price: tuple[str, str] | None = None
    price_filter: str | None = None
    currency = query.price_currency
    if query.doc_type == "product" and currency is not None:
        if "price" in query.facets:  # refused for a currency without price fields
            price_field_pair(currency, currencies, "currency")
        if currency in currencies:
            price = price_field_pair(currency, currencies, "currency")
            price_filter = _filter(named, "price")
            groups.setdefault(price_filter, [])
    fields = SPECS[query.doc_type].facet_fields

    def counted(flt: str | None) -> tuple[tuple[str, ...], tuple[str, str] | None, list[str]]:
        names = tuple(groups[flt])
        mine = price if price is not None and flt == price_filter else None
        return names, mine, [fields[n] for n in names] + list(mine or ())

    names, mine, facets = counted(full)
    main: dict[str, Any] = {
        "index_uid": uid, "query": query.q, "filter": full, "facets": facets or None,
        "sort": sort_spec(query, currencies, scope), "page": query.page,
        "hits_per_page": query.per_page, "matching_strategy": "all",
        "attributes_to_retrieve": list(SPECS[query.doc_type].model._fields),
        "show_ranking_score": bool(query.q),
    }
    if query.highlight and query.q:
        marked = SPECS[query.doc_type].highlight
        main.update(attributes_to_highlight=list(marked), highlight_pre_tag=PRE,
                    highlight_post_tag=POST, attributes_to_crop=[marked[1]],
                    crop_length=CROP_WORDS, crop_marker="\u2026")
    requests = [Request("main", main, names, mine)]
    requests += _identified(query, uid, named, main)
    for flt in groups:
        if flt != full:
            names, mine, facets = counted(flt)
            requests.append(Request("count", _count_params(uid, query, flt, facets), names,
                                    mine))
    return Plan(query, uid, requests)


def followup(plan_: Plan, responses: Sequence[Mapping[str, Any]]) -> list[Request]:
    """The queries a second round trip needs, mostly none: how many of the documents the
    query identified the text matches too (only when it identified any: identifiers are
    rarely typed), and one counting query per price bucket when the price distribution of
    the first may have been cut at `MAX_FACET_VALUES` distinct prices."""
    out = []
    for request, response in zip(plan_.requests, responses, strict=True):
        if request.role == "identified" and int(response.get("totalHits") or 0):
            out.append(Request("identified_text", _count_params(
                plan_.uid, plan_.query, request.params["filter"])))
    return out + _bucket_fallback(plan_, responses)


def _bucket_fallback(plan_: Plan, responses: Sequence[Mapping[str, Any]]) -> list[Request]:
    if "price" not in plan_.query.facets:
        return []
    for request, response in zip(plan_.requests, responses, strict=True):
        if request.price is None:
            continue
        low = request.price[0]
        if len((response.get("facetDistribution") or {}).get(low) or {}) < MAX_FACET_VALUES:
            return []
        base = request.params["filter"]
        out = []
        for label, start, stop in bucket_ranges(plan_.query.price_buckets):
            bounds = [f"{low} >= {start}" if start is not None else f"{low} EXISTS"]
            if stop is not None:
                bounds.append(f"{low} < {stop}")
            flt = all_of([p for p in (base, " AND ".join(bounds)) if p is not None])
            out.append(Request("bucket", _count_params(plan_.uid, plan_.query, flt),
                               bucket=label))
        return out
    return []


def _identified(query: SearchQuery, uid: str, named: Clauses,
                main: dict[str, Any]) -> list[Request]:
    """With text and relevance order: the documents the whole query identifies (first page
    of them, with every filter; no text search, a lookup). How many of them the text matches
    too (so the total counts them once) is asked only when there are some (`followup`)."""
    ident = identifier_match(query)
    if ident is None or query.sort != "relevance":
        return []
    flt = _filter(named, extra=ident)
    found = {**main, "query": None, "filter": flt, "facets": None, "sort": None, "page": 1,
             "hits_per_page": query.per_page, "show_ranking_score": False}
    for name in ("attributes_to_highlight", "highlight_pre_tag", "highlight_post_tag",
                 "attributes_to_crop", "crop_length", "crop_marker"):
        found.pop(name, None)
    return [Request("identified", found)]


# ---- responses → SearchResult -------------------------------------------------------------
def _facet_counts(distribution: Mapping[str, Any] | None, attribute: str) -> dict[str, int]:
    values = (distribution or {}).get(attribute) or {}
    return {str(k): int(v) for k, v in values.items() if int(v)}


def _highlights(doc_type: DocType, formatted: Mapping[str, Any] | None) -> dict[str, str]:
    out = {}
    for name in SPECS[doc_type].highlight:
        fragment = (formatted or {}).get(name)
        if isinstance(fragment, str) and PRE in fragment:
            out[name] = marked_headline(fragment, PRE, POST)
    return out


def hit(query: SearchQuery, raw: Mapping[str, Any]) -> Hit:
    document = SPECS[query.doc_type].model.from_meili(raw)
    score = raw.get("_rankingScore")
    return Hit(id=uuid.UUID(document.id),
               score=float(score) if query.q and score is not None else None,
               document=hit_document(document, query),
               highlights=_highlights(query.doc_type, raw.get("_formatted"))
               if query.highlight and query.q else {})


def result(plan_: Plan, responses: Sequence[Mapping[str, Any]], backend: str) -> SearchResult:
    """The common result from the multi-search responses (in `plan_.requests` order, those of
    the `followup` requests appended to both when it asked for any).
    Responses are dicts with `hits`, `totalHits`, `facetDistribution`, `facetStats`."""
    query = plan_.query
    facets: dict[str, dict[str, int]] = {}
    buckets: dict[str, int] = {}
    fallback: dict[str, int] | None = None
    stats: dict[str, FacetStats] = {}
    hits: list[Hit] = []
    identified: list[Hit] = []
    total = 0
    fields = SPECS[query.doc_type].facet_fields
    for request, response in zip(plan_.requests, responses, strict=True):
        distribution = response.get("facetDistribution")
        if request.role == "main":
            hits = [hit(query, raw) for raw in response.get("hits") or []]
            total += int(response.get("totalHits") or 0)
        elif request.role == "identified":
            identified = [hit(query, raw) for raw in response.get("hits") or []]
            total += int(response.get("totalHits") or 0)
            continue
        elif request.role == "identified_text":  # counted by both queries above
            total -= int(response.get("totalHits") or 0)
            continue
        if request.role == "bucket" and request.bucket is not None:
            fallback = fallback or {}
            count = int(response.get("totalHits") or 0)
            if count:
                fallback[request.bucket] = count
            continue
        for name in request.facets:
            facets[name] = _facet_counts(distribution, fields[name])
        if request.price is not None:
            stats = _price_stats(request.price, response.get("facetStats") or {})
            buckets = _price_buckets(query.price_buckets,
                                     (distribution or {}).get(request.price[0]) or {})
    if "price" in query.facets:
        facets["price"] = buckets if fallback is None else fallback
    if identified:
        hits = identified_first(query, identified, hits)
    return SearchResult(hits=hits, total=total, page=query.page, per_page=query.per_page,
                        facets={name: facets.get(name, {}) for name in query.facets},
                        facet_stats=stats, backend=backend)


def identified_first(query: SearchQuery, identified: list[Hit], hits: list[Hit]) -> list[Hit]:
    """The page with the identified documents first (page 1) and never twice. Later pages are
    the text matches' pages: shifted by the identified documents the text does not match
    (Meilisearch cannot rank a filter match, so this backend approximates the first tier)."""
    ids = {h.id for h in identified}
    rest = [h for h in hits if h.id not in ids]
    if query.page != 1:
        return rest
    return (identified + rest)[:query.per_page]


def _price_buckets(bounds: tuple[int, ...], prices: Mapping[str, Any]) -> dict[str, int]:
    """Hits per price bucket (`bucket_ranges`) from hits per distinct low price (Meilisearch
    writes a number facet value as its shortest decimal: `1500`, `1500.5`). A price falls in
    the bucket after the bounds it reaches, as `model.bucket_label` says."""
    counts = [0] * (len(bounds) + 1)
    for value, count in prices.items():
        counts[bisect.bisect_right(bounds, float(value))] += int(count)
    return {label: n for (label, _, _), n in zip(bucket_ranges(bounds), counts, strict=True)
            if n}


def _price_stats(price: tuple[str, str], facet_stats: Mapping[str, Any]
                 ) -> dict[str, FacetStats]:
    low, high = price
    lows, highs = facet_stats.get(low), facet_stats.get(high)
    if not lows or not highs:
        return {}
    return {"price": FacetStats(min=int(lows["min"]), max=int(highs["max"]))}


def empty_result(query: SearchQuery, backend: str) -> SearchResult:
    """The answer for a tenant whose index does not exist yet (nothing indexed)."""
    return SearchResult(hits=[], total=0, page=query.page, per_page=query.per_page,
                        facets={name: {} for name in query.facets}, backend=backend)


def suggest_params(doc_type: DocType, prefix: str, scope: SearchScope, text: str,
                   limit: int) -> dict[str, Any]:
    """The query of a search-box suggestion: titles only, the last word a prefix, typos
    forgiven from 5 letters, drafts only for admin keys."""
    return {
        "index_uid": index_uid(prefix, scope.tenant_id, doc_type), "query": text,
        "filter": None if scope.include_drafts else any_of("status", ["published"]),
        "attributes_to_search_on": ["title"], "limit": limit, "matching_strategy": "all",
        "attributes_to_retrieve": ["id", "title"],
    }
