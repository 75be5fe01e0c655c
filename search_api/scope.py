"""Who searches: the scope an API key fixes for every search it makes (tenant, drafts,
merchandising restrictions, the tenant's text settings) (pure).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import SkipValidation

from indexer.model.relevance import DEFAULT_TEXT_RULES, TextRules
from search_api.filters import FilterTest
from search_api.model import SearchQuery
from search_api.value_types import StrictModel


class SearchScope(StrictModel):
    """Who searches: fixed by the API key, never by request parameters."""

    tenant_id: uuid.UUID
    include_drafts: bool = False
    only_ids: frozenset[uuid.UUID] | None = None
    """Merchandising: the search sees only these documents (a pin's lookup)."""
    exclude_ids: frozenset[uuid.UUID] = frozenset()
    """Merchandising: documents this search never sees (hidden by a rule, or pinned)."""
    tier: tuple[tuple[FilterTest, ...], ...] = ()
    """Merchandising (boost and bury): the search sees only the documents for which every
    group holds one test that holds (a conjunction of disjunctions), besides its filter."""
    in_stock_first: bool = False
    """Products in stock before those out of stock (ranking tier 0, relevance and explicit
    sorts alike). The API fills it from the tenant's setting (`ApiKey.scope`, on by
    default); a scope built by hand ranks without it."""
    language: str = "simple"
    """The tenant's text search configuration (`settings.language`): the language query
    words are stemmed in by the engines that stem in Python."""
    text_rules: Annotated[TextRules, SkipValidation] = DEFAULT_TEXT_RULES
    """The tenant's synonyms, stop words and typo settings (the API fills them from its
    relevance settings for the search's `locale`)."""

    def statuses(self, query: SearchQuery) -> list[str] | None:
        """The statuses this search may see (None: any): `published` for search keys, what
        the filter asks for (or everything) for admin keys. Every backend filters by it."""
        if not self.include_drafts:
            return ["published"]
        flt = query.filter
        return list(flt.status) if flt is not None and flt.status else None
