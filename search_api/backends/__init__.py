"""Search backends, one module per engine, each implementing `SearchBackend` (defined here):
`postgres.PostgresBackend(pool)` (the reference), `tantivy.TantivyBackend(reader)` and
`meilisearch.MeilisearchBackend(config)`; hits carry `indexer.model` documents, matches are
marked by `highlight`. This module holds only the protocol (pure)."""

from __future__ import annotations

from typing import Protocol

from indexer.model import DocType
from search_api.model import SearchQuery
from search_api.results import SearchResult, Suggestion
from search_api.scope import SearchScope


class SearchBackend(Protocol):
    """One module per backend implements this; the conformance suite runs against each."""

    name: str

    async def search(self, query: SearchQuery, scope: SearchScope) -> SearchResult: ...

    async def suggest(self, doc_type: DocType, prefix: str, scope: SearchScope,
                      limit: int = 8) -> list[Suggestion]: ...

    async def ready(self) -> bool: ...

    async def caught_up(self) -> None:
        """Let searches see every change the engine has made visible so far (called after a
        read-your-writes wait found the token applied). A no-op where what is applied is
        visible at once."""
