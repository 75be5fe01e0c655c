"""A Meilisearch hit as the common `Hit`: its document, its ranking score and the highlighted
fragments, marked between private delimiters and turned into `<mark>` (pure: no I/O)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from indexer.model import SPECS, DocType
from search_api.backends.highlight import marked_headline
from search_api.model import SearchQuery
from search_api.results import Hit, hit_document

PRE, POST = "\u27e6", "\u27e7"
"""Highlight delimiters: never HTML, so fragments can be escaped before marks go in."""
CROP_WORDS = 30


def _highlights(doc_type: DocType, formatted: Mapping[str, Any] | None) -> dict[str, str]:
    out = {}
    for name in SPECS[doc_type].highlight:
        fragment = (formatted or {}).get(name)
        if isinstance(fragment, str) and PRE in fragment:
            out[name] = marked_headline(fragment, PRE, POST)
    return out


def hit(query: SearchQuery, raw: Mapping[str, Any]) -> Hit:
    document = SPECS[query.doc_type].model.from_meili(raw)
    score = raw.get("_rankingScore")
    return Hit(id=uuid.UUID(document.id),
               score=float(score) if query.q and score is not None else None,
               document=hit_document(document, query),
               highlights=_highlights(query.doc_type, raw.get("_formatted"))
               if query.highlight and query.q else {})
