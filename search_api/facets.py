"""The facet vocabulary: the facet names of each document type, price buckets, which filter a
facet ignores, and the documented order of a facet's values (pure).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from indexer.model.text import split_option

ProductFacet = Literal["categories", "tags", "currencies", "has_stock", "price", "options"]
ContentFacet = Literal["kind", "categories", "tags", "author"]
DEFAULT_PRICE_BUCKETS = (1000, 2500, 5000, 10000, 25000, 50000)
OWN_FILTER: dict[str, str] = {"categories": "categories", "tags": "tags",
                              "has_stock": "has_stock", "price": "price", "kind": "kind",
                              "author": "author", "options": "options"}
"""Which filter a facet ignores (disjunctive faceting: a facet whose own filter is set is
counted with every other filter, so ticking a category keeps the other ones visible)."""


def bucket_label(bounds: tuple[int, ...], amount: int) -> str:
    """The price bucket an amount falls in: `0-1000`, `1000-2500`, ..., `50000+` (pure)."""
    low = 0
    for high in bounds:
        if amount < high:
            return f"{low}-{high}"
        low = high
    return f"{low}+"


def facet_order(name: str, counts: Mapping[str, int],
                labels: Mapping[str, str] | None = None) -> dict[str, int]:
    """A facet's values in the documented order: price buckets by amount; every other facet
    by count (most first), then label (casefolded: an option's value, the category or author
    name of `labels`, else the value itself), then value. Every backend's facets come out so,
    and the API orders them again once it has the names of id values (pure)."""
    if name == "price":
        def amount(bucket: str) -> int:
            head = bucket.split("-")[0].rstrip("+")
            return int(head) if head.isdigit() else 0
        return dict(sorted(counts.items(), key=lambda kv: (amount(kv[0]), kv[0])))
    names = labels or ({v: split_option(v)[1] for v in counts} if name == "options" else {})
    return dict(sorted(counts.items(), key=lambda kv: (
        -kv[1], (names.get(kv[0]) or kv[0]).casefold(), kv[0])))
