"""The external-engine backend: the search contract over Meilisearch, one index per tenant
and document type (I/O: HTTP through meilisearch-python-sdk).

Queries come from the pure `search_api.compile_meili`; one search is one multi-search round
trip (the page with the facets, price buckets and stats counted under its filter, plus one
counting query per other filter a facet ignores, and a lookup of the documents the whole query
identifies), and a second one only when it identified some (how many the text matches too) or
for price buckets over more distinct prices than Meilisearch counts.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.errors import MeilisearchError
from meilisearch_python_sdk.models.search import SearchParams

from core_write.errors import Unavailable
from indexer.meili import client as meili
from indexer.meili.config import MeiliConfig
from indexer.model import DocType
from indexer.model.text import price_field_pair, query_words
from search_api import compile_meili
from search_api.backends.highlight import mark_prefixes
from search_api.model import SearchQuery, SearchResult, SearchScope, Suggestion


def search_bodies(requests: list[compile_meili.Request]) -> list[dict[str, Any]]:
    """The JSON queries of compiled requests (the SDK's names and defaults, unset values left
    to the server)."""
    return [SearchParams(**{k: v for k, v in r.params.items() if v is not None}
                         ).model_dump(by_alias=True, exclude_none=True) for r in requests]


class MeilisearchBackend:
    """`SearchBackend` over a Meilisearch server."""

    name = "meilisearch"

    def __init__(self, config: MeiliConfig, client: AsyncClient | None = None) -> None:
        self.config = config
        self.client = client or meili.open_client(config)
        self.searcher = meili.Searcher(config)
        self.currencies = tuple(config.currencies)

    async def __aenter__(self) -> MeilisearchBackend:
        """Check the server at start-up: `MeiliUnavailable` says whether the URL cannot be
        reached or the key is refused."""
        await meili.check(self.client, self.config, for_search=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.searcher.close()
        await self.client.aclose()

    async def search(self, query: SearchQuery, scope: SearchScope) -> SearchResult:
        started = time.perf_counter()
        if query.doc_type == "product" and query.sort.startswith("price"):
            price_field_pair(query.price_currency, self.currencies, "currency")
        plan = compile_meili.plan(query, scope, self.config.prefix, self.currencies)
        responses = await self._multi_search(plan.requests)
        if responses is None:
            result = compile_meili.empty_result(query, self.name)
        else:
            extra = compile_meili.followup(plan, responses)
            more = await self._multi_search(extra) if extra else None
            if more is not None:  # an identifier matched, or too many distinct prices
                plan = compile_meili.Plan(query, plan.uid, [*plan.requests, *extra])
                responses += more
            result = compile_meili.result(plan, responses, self.name)
        return result.model_copy(update={"took_ms": (time.perf_counter() - started) * 1000})

    async def _multi_search(self, requests: list[compile_meili.Request]
                            ) -> list[dict[str, Any]] | None:
        """The responses, or None when the tenant's index does not exist yet."""
        try:
            return await self.searcher.multi_search(search_bodies(requests))
        except meili.SearchRefused as exc:
            if exc.code == meili.NOT_FOUND:
                return None
            # every user value was validated before compiling: a refusal means the index
            # does not match the code (settings not applied yet) and is ours, not the user's
            raise Unavailable(f"meilisearch refused the query ({exc.code}): {exc.message}"
                              ) from None
        except meili.MeiliUnavailable as exc:
            raise Unavailable(f"meilisearch: {exc}") from None

    async def suggest(self, doc_type: DocType, prefix: str, scope: SearchScope,
                      limit: int = 8) -> list[Suggestion]:
        words = query_words(prefix)
        if not words:
            return []
        limit = max(1, min(limit, 50))
        params = compile_meili.suggest_params(doc_type, self.config.prefix, scope,
                                              " ".join(words), limit)
        found = await self._multi_search([compile_meili.Request("main", params)])
        if found is None:
            return []
        return [Suggestion(id=uuid.UUID(str(h["id"])), title=str(h["title"]),
                           highlighted=mark_prefixes(str(h["title"]), words))
                for h in found[0]["hits"] if h.get("title")]

    async def ready(self) -> bool:
        try:
            health = await self.client.health()
        except MeilisearchError:
            return False
        return health.status == "available"
