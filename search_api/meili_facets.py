"""Facet counts, price buckets and price stats of the Meilisearch backend: read from the
distribution and stats of the responses, and the counting query per bucket asked when the
distribution of prices may have been cut at `MAX_FACET_VALUES` (pure: no I/O)."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any

from indexer.meili.documents import MAX_FACET_VALUES
from search_api.meili_filters import all_of
from search_api.meili_requests import Plan, Request, count_params
from search_api.results import FacetStats


def bucket_ranges(bounds: Sequence[int]) -> list[tuple[str, int | None, int | None]]:
    """(label, from inclusive, to exclusive) of each price bucket, as `model.bucket_label`."""
    edges: list[int | None] = [None, *bounds, None]
    out = []
    for low, high in zip(edges, edges[1:], strict=False):
        label = f"{low or 0}-{high}" if high is not None else f"{low}+"
        out.append((label, low, high))
    return out


def bucket_fallback(plan_: Plan, responses: Sequence[Mapping[str, Any]]) -> list[Request]:
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
            out.append(Request("bucket", count_params(plan_.uid, plan_.query, flt),
                               bucket=label))
        return out
    return []


def facet_counts(distribution: Mapping[str, Any] | None, attribute: str) -> dict[str, int]:
    values = (distribution or {}).get(attribute) or {}
    return {str(k): int(v) for k, v in values.items() if int(v)}


def price_buckets(bounds: tuple[int, ...], prices: Mapping[str, Any]) -> dict[str, int]:
    """Hits per price bucket (`bucket_ranges`) from hits per distinct low price (Meilisearch
    writes a number facet value as its shortest decimal: `1500`, `1500.5`). A price falls in
    the bucket after the bounds it reaches, as `model.bucket_label` says."""
    counts = [0] * (len(bounds) + 1)
    for value, count in prices.items():
        counts[bisect.bisect_right(bounds, float(value))] += int(count)
    return {label: n for (label, _, _), n in zip(bucket_ranges(bounds), counts, strict=True)
            if n}


def price_stats(price: tuple[str, str], facet_stats: Mapping[str, Any]
                ) -> dict[str, FacetStats]:
    low, high = price
    lows, highs = facet_stats.get(low), facet_stats.get(high)
    if not lows or not highs:
        return {}
    return {"price": FacetStats(min=int(lows["min"]), max=int(highs["max"]))}
