"""Meilisearch documents requests stay under the payload bound however long the texts."""

from __future__ import annotations

import uuid

from indexer.meili.payload import MAX_PAYLOAD_BYTES, payload_parts


def test_long_documents_are_sent_in_parts_under_the_bound() -> None:
    docs = [(uuid.uuid4(), {"id": str(i), "description": "é" * 100_000}) for i in range(40)]
    parts = payload_parts(docs, limit=1_000_000)
    assert [doc for part in parts for doc in part] == docs  # all of them, in order
    for part in parts:
        encoded = sum(len(str(doc).encode()) for _, doc in part)
        assert len(part) == 1 or encoded <= 1_000_000


def test_small_batches_go_whole_and_a_huge_document_alone() -> None:
    small = [(uuid.uuid4(), {"id": str(i), "title": "boots"}) for i in range(1000)]
    assert payload_parts(small) == [small]
    huge = [(uuid.uuid4(), {"id": "x", "description": "w " * MAX_PAYLOAD_BYTES})]
    assert payload_parts(small[:2] + huge + small[:2]) == [small[:2], huge, small[:2]]
