"""Compiles a `SearchQuery` + `SearchScope` into Meilisearch multi-search requests, and maps
their responses back to the common `SearchResult` (pure: no I/O): the plan of a search, its
follow-up queries, the result and suggestions here; the requests, filter strings, order,
facets and hits in the `meili_*` modules it builds from.

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

from collections.abc import Mapping, Sequence
from typing import Any

from indexer.meili.config import index_uid
from indexer.model import SPECS, DocType
from indexer.model.text import price_field_pair
from search_api.facets import OWN_FILTER
from search_api.meili_facets import bucket_fallback, facet_counts, price_buckets, price_stats
from search_api.meili_filters import any_of, clauses, filter_of
from search_api.meili_hits import CROP_WORDS, POST, PRE, hit
from search_api.meili_ranking import identified_first, identified_lookup, sort_spec
from search_api.meili_requests import Plan, Request, count_params
from search_api.model import SearchQuery
from search_api.results import FacetStats, Hit, SearchResult
from search_api.scope import SearchScope


def plan(query: SearchQuery, scope: SearchScope, prefix: str,
         currencies: Sequence[str]) -> Plan:
    """Every request one search needs, in one multi-search: the page's query, then one
    counting query per other filter some facets are counted under."""
    uid = index_uid(prefix, scope.tenant_id, query.doc_type)
    named = clauses(query, scope, currencies)
    set_filters = {name for name, _ in named}
    full = filter_of(named)
    # filter → the facet names counted under it (the full filter's: in the page's query)
    groups: dict[str | None, list[str]] = {full: []}
    for name in query.facets:
        if name == "price":
            continue
        own = OWN_FILTER.get(name)
        groups.setdefault(filter_of(named, own) if own in set_filters else full,
                          []).append(name)
    price: tuple[str, str] | None = None
    price_filter: str | None = None
    currency = query.price_currency
    if query.doc_type == "product" and currency is not None:
        if "price" in query.facets:  # refused for a currency without price fields
            price_field_pair(currency, currencies, "currency")
        if currency in currencies:
            price = price_field_pair(currency, currencies, "currency")
            price_filter = filter_of(named, "price")
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
    requests += identified_lookup(query, uid, named, main)
    for flt in groups:
        if flt != full:
            names, mine, facets = counted(flt)
            requests.append(Request("count", count_params(uid, query, flt, facets), names,
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
            out.append(Request("identified_text", count_params(
                plan_.uid, plan_.query, request.params["filter"])))
    return out + bucket_fallback(plan_, responses)


# ---- responses → SearchResult -------------------------------------------------------------
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
            facets[name] = facet_counts(distribution, fields[name])
        if request.price is not None:
            stats = price_stats(request.price, response.get("facetStats") or {})
            buckets = price_buckets(query.price_buckets,
                                    (distribution or {}).get(request.price[0]) or {})
    if "price" in query.facets:
        facets["price"] = buckets if fallback is None else fallback
    if identified:
        hits = identified_first(query, identified, hits)
    return SearchResult(hits=hits, total=total, page=query.page, per_page=query.per_page,
                        facets={name: facets.get(name, {}) for name in query.facets},
                        facet_stats=stats, backend=backend)


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
