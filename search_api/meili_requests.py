"""The queries of a Meilisearch multi-search as the compiler plans them: one query with what
its response is for (`Request`), a search's queries (`Plan`) and the query that only counts
(pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from search_api.model import SearchQuery

Role = Literal["main", "count", "bucket", "identified", "identified_text"]


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


def count_params(uid: str, query: SearchQuery, flt: str | None,
                 facets: list[str] | None = None) -> dict[str, Any]:
    """A query that only counts: `page=0` returns no documents (limit 0) but exhaustive
    `totalHits` and facet counts (Meilisearch's documented way)."""
    return {"index_uid": uid, "query": query.q, "filter": flt, "facets": facets, "page": 0,
            "hits_per_page": 1, "matching_strategy": "all", "attributes_to_retrieve": ["id"]}
