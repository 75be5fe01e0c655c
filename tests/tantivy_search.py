"""Looking at a Tantivy index the way the API does: through `search_api.backends.tantivy` over
a `TantivyReader`, with drafts included and no status filter (what the engine tests check is
the engine, not the key's scope)."""

from __future__ import annotations

import uuid
from typing import Any

from indexer.model import DocType
from indexer.tantivy.reader import TantivyReader
from search_api.backends.tantivy import TantivyBackend
from search_api.model import SearchQuery
from search_api.results import SearchResult
from search_api.scope import SearchScope


async def search(reader: TantivyReader | TantivyBackend, tenant: uuid.UUID,
                 text: str | None = None, *, doc_type: DocType = "product",
                 filters: dict[str, Any] | None = None, per_page: int = 100) -> SearchResult:
    query = SearchQuery.model_validate({"doc_type": doc_type, "q": text, "filter": filters,
                                        "per_page": per_page})
    scope = SearchScope(tenant_id=tenant, include_drafts=True)
    if isinstance(reader, TantivyBackend):
        return await reader.search(query, scope)
    backend = TantivyBackend(reader)
    try:
        return await backend.search(query, scope)
    finally:
        backend._threads.shutdown(wait=False)  # a backend for one search


async def hit_ids(reader: TantivyReader | TantivyBackend, tenant: uuid.UUID,
                  text: str | None = None, **kwargs: Any) -> list[str]:
    return [str(hit.id) for hit in (await search(reader, tenant, text, **kwargs)).hits]


async def titles(reader: TantivyReader | TantivyBackend, tenant: uuid.UUID,
                 text: str | None = None, **kwargs: Any) -> set[str]:
    return {hit.document["title"] for hit in (await search(reader, tenant, text,
                                                           **kwargs)).hits}


async def count(reader: TantivyReader | TantivyBackend, tenant: uuid.UUID,
                doc_type: DocType = "product") -> int:
    return (await search(reader, tenant, doc_type=doc_type, per_page=1)).total


async def get(reader: TantivyReader | TantivyBackend, tenant: uuid.UUID, doc_id: Any,
              doc_type: DocType = "product") -> dict[str, Any] | None:
    """The hit document of `doc_id` in the tenant's index, or None (small test indexes:
    the first 100 hits are all of them)."""
    for hit in (await search(reader, tenant, doc_type=doc_type)).hits:
        if str(hit.id) == str(doc_id):
            return hit.document
    return None
