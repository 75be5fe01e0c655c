"""ULID-generated UUID identifiers: generation and strict parsing (pure)."""

from __future__ import annotations

import uuid

from ulid import ULID

from core_write.errors import InvalidId


def new_id() -> uuid.UUID:
    """A new id: a ULID (time-ordered, so B-tree inserts stay local) stored as a UUID."""
    return ULID().to_uuid()


def parse_id(value: object, field: str = "id") -> uuid.UUID:
    """Accept a UUID, ULID text or UUID text; anything else raises `InvalidId` naming `field`."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise InvalidId(field, value)
    text = value.strip()
    if len(text) == 26:
        try:
            return ULID.from_str(text).to_uuid()
        except ValueError:
            raise InvalidId(field, value) from None
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidId(field, value) from None
