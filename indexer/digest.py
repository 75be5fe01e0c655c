"""Digests of engine documents, so `verify` can tell whether an engine holds the content it
should, not only the version (pure)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

Copy = tuple[int, str]
"""What verify compares of an engine's document: its version and a digest of its content."""


def content_digest(doc: Mapping[str, Any]) -> str:
    """A digest of a document's content: canonical JSON (sorted keys, timestamps in UTC)."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_plain)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _plain(value: Any) -> str:
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None
                else value.astimezone(UTC)).isoformat()
    return str(value)
