"""The order of Meilisearch hits: in-stock-first and the explicit sorts as its `sort`, and the
identifier tier (the documents the whole query identifies, looked up in a query of their own
and put first on the page) (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from indexer.model.text import price_field_pair
from search_api.meili_filters import Clauses, filter_of, identifier_match
from search_api.meili_requests import Request
from search_api.model import SearchQuery
from search_api.results import Hit
from search_api.scope import SearchScope


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


def identified_lookup(query: SearchQuery, uid: str, named: Clauses,
                      main: dict[str, Any]) -> list[Request]:
    """With text and relevance order: the documents the whole query identifies (first page
    of them, with every filter; no text search, a lookup). How many of them the text matches
    too (so the total counts them once) is asked only when there are some (`followup`)."""
    ident = identifier_match(query)
    if ident is None or query.sort != "relevance":
        return []
    flt = filter_of(named, extra=ident)
    found = {**main, "query": None, "filter": flt, "facets": None, "sort": None, "page": 1,
             "hits_per_page": query.per_page, "show_ranking_score": False}
    for name in ("attributes_to_highlight", "highlight_pre_tag", "highlight_post_tag",
                 "attributes_to_crop", "crop_length", "crop_marker"):
        found.pop(name, None)
    return [Request("identified", found)]


def identified_first(query: SearchQuery, identified: list[Hit], hits: list[Hit]) -> list[Hit]:
    """The page with the identified documents first (page 1) and never twice. Later pages are
    the text matches' pages: shifted by the identified documents the text does not match
    (Meilisearch cannot rank a filter match, so this backend approximates the first tier)."""
    ids = {h.id for h in identified}
    rest = [h for h in hits if h.id not in ids]
    if query.page != 1:
        return rest
    return (identified + rest)[:query.per_page]
