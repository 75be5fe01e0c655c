"""Names for the facet values that are ids (category and author facets), looked up by key in
the tables that name them, so a storefront can render a facet list without a lookup of its
own (I/O: PostgreSQL; see `sql/api.sql` for why not from the index tables)."""

from __future__ import annotations

import uuid

import asyncpg

from indexer.model import DocType
from search_api.queries import QUERIES

LABELLED: dict[DocType, dict[str, str]] = {
    "product": {"categories": "product_category_labels"},
    "content": {"categories": "content_category_labels", "author": "author_labels"},
}
"""doc type → facet whose values are ids → the named query that names them."""


async def facet_labels(pool: asyncpg.Pool, tenant_id: uuid.UUID, doc_type: DocType,
                       facets: dict[str, dict[str, int]]) -> dict[str, dict[str, str]]:
    """facet → value → label for the id-valued facets of a result (one query per facet
    that has values; values whose documents carry no name are left out)."""
    out: dict[str, dict[str, str]] = {}
    for facet, query in LABELLED[doc_type].items():
        if facets.get(facet):
            rows = await pool.fetch(QUERIES[query], tenant_id, list(facets[facet]))
            out[facet] = {row["value"]: row["label"] for row in rows if row["label"]}
    return out
