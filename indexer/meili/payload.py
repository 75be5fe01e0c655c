"""Cutting a batch of documents into requests Meilisearch accepts: each part's JSON under a
size bound well below the server's request limit (pure)."""

from __future__ import annotations

import json

from indexer.follower import Docs

MAX_PAYLOAD_BYTES = 20_000_000
"""The largest documents request sent (Meilisearch refuses requests above 100 MB by default,
and long texts make a batch of documents that large): a batch above it goes in parts."""


def payload_parts(docs: Docs, limit: int = MAX_PAYLOAD_BYTES) -> list[Docs]:
    """`docs` in order, cut into parts whose JSON stays under `limit` bytes (a document larger
    than that alone); ASCII-escaped JSON length bounds the UTF-8 size from above (pure)."""
    parts: list[Docs] = []
    start, size = 0, 0
    for index, (_doc_id, doc) in enumerate(docs):
        length = len(json.dumps(doc, default=str)) + 1
        if index > start and size + length > limit:
            parts.append(docs[start:index])
            start, size = index, 0
        size += length
    parts.append(docs[start:])
    return parts
