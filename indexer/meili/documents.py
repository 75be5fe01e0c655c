"""The Meilisearch index settings that make the engine documents
(`indexer.model.engines.meili_document`) searchable, filterable and sortable the way the
search contract needs, and their drift from what a server holds (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from indexer.model import DocType
from indexer.model.relevance import FieldWeights, SearchSettings, synonym_map
from indexer.model.text import price_fields

SHAPE_VERSION = 2
"""Bump when the document shape changes: every index is rebuilt (behind a swap) on start."""
MAX_TOTAL_HITS = 1_000_000
"""`pagination.maxTotalHits`: totals are exact up to this many hits."""
MAX_FACET_VALUES = 10_000
"""`faceting.maxValuesPerFacet`: facet counts are exact up to this many distinct values."""

SEARCHABLE: dict[DocType, list[str]] = {
    # the default field tiers of the ranking (title > the short texts > the long ones), in
    # the order Meilisearch's attributeRank rule ranks them (it ranks every attribute apart,
    # so within a tier the first listed wins a tie the other backends leave to their score);
    # a tenant's `field_weights` reorder them by tier (`searchable`)
    "product": ["title", "subtitle", "tags", "category_names", "options.values",
                "description", "meta_title", "meta_description"],
    "content": ["title", "excerpt", "tags", "category_name", "author_name", "body_preview",
                "meta_title", "meta_description"],
}
_FIELD_OF: dict[str, str] = {
    "title": "title", "subtitle": "subtitle", "tags": "tags", "category_names": "categories",
    "options.values": "options", "description": "description", "excerpt": "excerpt",
    "category_name": "category", "author_name": "author", "body_preview": "body",
    "meta_title": "meta", "meta_description": "meta"}
"""A searchable attribute → the weighable field (`relevance.FIELDS`) it belongs to."""


def searchable(doc_type: DocType, weights: FieldWeights) -> list[str]:
    """The searchable attributes in the tenant's tier order (a field's attributes keep their
    place in `SEARCHABLE` within its tier: the defaults give `SEARCHABLE` itself)."""
    tiers = weights.of(doc_type).model_dump()
    return sorted(SEARCHABLE[doc_type], key=lambda name: tiers[_FIELD_OF[name]])


_FILTERABLE: dict[DocType, list[str]] = {
    "product": ["id", "status", "category_ids", "tags", "currencies", "has_stock",
                "created_at_us", "option_values", "identifiers"],
    "content": ["id", "status", "kind", "category_id", "tags", "author_id", "published_at_us",
                "created_at_us", "slug"],
}
_SORTABLE: dict[DocType, list[str]] = {
    "product": ["id", "title_sort", "created_at_us", "published_at_us", "in_stock"],
    "content": ["id", "title_sort", "created_at_us", "published_at_us"],
}
RANKING_RULES = ["sort", "words", "typo", "attributeRank", "exactness", "proximity",
                 "wordPosition"]
"""The relevance tiers every backend follows (typos, then the best field a word matched in,
then exact > prefix), with proximity and word position as the engine's score after them.
`words` decides nothing (every word must match: `matchingStrategy: all`). `sort` first: an
explicit sort orders purely by value (then id), like the other backends; without a sort
parameter the rule does nothing and relevance decides. The tenant's `in_stock_first`
(ranking tier 0) is the sort parameter's first key, `in_stock:desc`, for relevance too
(`search_api.meili_ranking.sort_spec`), so the rules need no per-tenant settings and a
changed setting needs no rebuild."""


def relevance_settings(settings: SearchSettings) -> dict[str, Any]:
    """A tenant's relevance settings as Meilisearch index settings: its synonyms (each term
    → the terms it also finds; Meilisearch matches multi-word terms too), stop words and
    typo switches. Meilisearch keeps them per index, not per search: entries scoped to a
    locale are left out (README: relevance controls, Meilisearch)."""
    typo = settings.typo_tolerance
    return {
        "synonyms": {" ".join(term): [" ".join(t) for t in targets]
                     for term, targets in sorted(synonym_map(settings.synonyms, None).items())},
        "stopWords": sorted(settings.stop_word_set(None)),
        "typoTolerance": {
            "enabled": typo.enabled,
            "minWordSizeForTypos": {"oneTypo": typo.one_typo_min,
                                    "twoTypos": max(typo.two_typos_min, typo.one_typo_min)},
            "disableOnWords": sorted(typo.disable_on_words)},
    }


def index_settings(doc_type: DocType, currencies: Iterable[str],
                   relevance: SearchSettings | None = None) -> dict[str, Any]:
    """The index settings (Meilisearch's camelCase JSON) of one doc type, with a tenant's
    relevance settings (`relevance_settings`; the defaults when it has none)."""
    filterable = list(_FILTERABLE[doc_type])
    sortable = list(_SORTABLE[doc_type])
    if doc_type == "product":
        for cur in currencies:
            filterable += price_fields(cur)
            sortable += price_fields(cur)
    relevance = relevance or SearchSettings()
    return {
        # the tenant's field tiers: a change makes Meilisearch reindex the index itself
        "searchableAttributes": searchable(doc_type, relevance.field_weights),
        "filterableAttributes": sorted(filterable),
        "sortableAttributes": sorted(sortable),
        "rankingRules": RANKING_RULES,
        "faceting": {"maxValuesPerFacet": MAX_FACET_VALUES},
        "pagination": {"maxTotalHits": MAX_TOTAL_HITS},
        # typos from TYPO_ONE_MIN/TYPO_TWO_MIN letters unless the tenant says otherwise
        **relevance_settings(relevance),
    }


_UNORDERED = frozenset({"filterableAttributes", "sortableAttributes", "stopWords"})
_WHOLE = frozenset({"synonyms"})
"""Objects compared whole (a synonym removed is drift), their lists as sets."""


def settings_drift(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The desired settings whose current value differs (an empty dict: in sync). Attribute
    lists that Meilisearch treats as sets compare as sets; nested objects compare on the keys
    we set."""
    drift: dict[str, Any] = {}
    for key, want in desired.items():
        have = current.get(key)
        if key in _UNORDERED:
            same = isinstance(have, list) and sorted(map(str, have)) == sorted(want)
        elif key in _WHOLE:
            same = isinstance(have, Mapping) and {k: sorted(v) for k, v in have.items()} == \
                {k: sorted(v) for k, v in want.items()}
        elif isinstance(want, Mapping):
            same = isinstance(have, Mapping) and not settings_drift(have, want)
        else:
            same = have == want
        if not same:
            drift[key] = want
    return drift
