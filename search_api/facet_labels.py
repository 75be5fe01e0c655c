"""Facets as a storefront renders them: names (and handles) for the facet values that are
ids (category and author facets), looked up by key in the tables that name them (I/O:
PostgreSQL; see `sql/api.sql` for why not from the index tables), and `labelled`, which turns
a result's counts into ordered, labelled `facet_values` (pure)."""

from __future__ import annotations

import uuid

import asyncpg

from indexer.model import DocType
from indexer.model.text import split_option
from search_api.facets import facet_order
from search_api.queries import QUERIES
from search_api.results import FacetValue, SearchResult

LABELLED: dict[DocType, dict[str, str]] = {
    "product": {"categories": "product_category_labels"},
    "content": {"categories": "content_category_labels", "author": "author_labels"},
}
"""doc type → facet whose values are ids → the named query that names them."""
Names = dict[str, dict[str, tuple[str, str | None]]]
"""facet → id value → (name, handle or None)."""


async def facet_names(pool: asyncpg.Pool, tenant_id: uuid.UUID, doc_type: DocType,
                      facets: dict[str, dict[str, int]]) -> Names:
    """facet → value → (name, handle) for the id-valued facets of a result (one query per
    facet that has values; values whose documents carry no name are left out)."""
    out: Names = {}
    for facet, query in LABELLED[doc_type].items():
        if facets.get(facet):
            rows = await pool.fetch(QUERIES[query], tenant_id, list(facets[facet]))
            out[facet] = {row["value"]: (row["label"], row["handle"])
                          for row in rows if row["label"]}
    return out


def _value(facet: str, value: str, count: int,
           named: dict[str, tuple[str, str | None]]) -> FacetValue:
    if facet == "options":
        option, label = split_option(value)
        return FacetValue(value=value, count=count, label=label, option=option)
    name, handle = named.get(value, (value, None))
    return FacetValue(value=value, count=count, label=name, handle=handle)


def labelled(result: SearchResult, names: Names) -> SearchResult:
    """The result with `facet_labels` (id-valued facets), `facet_values` (every facet, each
    value labelled) and its facets in `model.facet_order` by those labels (pure)."""
    facets: dict[str, dict[str, int]] = {}
    values: dict[str, list[FacetValue]] = {}
    for facet, counts in result.facets.items():
        named = names.get(facet, {})
        labels = {v: name for v, (name, _) in named.items()}
        facets[facet] = facet_order(facet, counts, labels or None)
        values[facet] = [_value(facet, v, n, named) for v, n in facets[facet].items()]
    return result.model_copy(update={
        "facets": facets, "facet_values": values,
        "facet_labels": {facet: {v: name for v, (name, _) in named.items()}
                         for facet, named in names.items()}})
