"""PostgreSQL's binary COPY format (pure): the header, the trailer and the field encodings of
the column types bulk writes use, so a writer builds a table's rows as bytes with a few
`struct` calls a row instead of one tuple and one codec call per value
(`asyncpg.Connection.copy_records_to_table`). A table's data is
`HEADER + rows + TRAILER`; a row is its field count (`row_start`) and then each field.

Field encodings (PostgreSQL's `*_recv` functions): a 4-byte length, then the value; NULL is
length -1. uuid: its 16 bytes; integer / bigint: big-endian; boolean: one byte; text,
varchar and char: UTF-8 (the server's encoding; varchar(n) and char(n) lengths are checked by
the server as for text COPY); jsonb: version byte 1, then the JSON text; timestamptz: the
microseconds since 2000-01-01 UTC."""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
"""Signature, flags (no OIDs), header extension length."""
TRAILER = b"\xff\xff"
NULL = b"\xff\xff\xff\xff"
TRUE = b"\x00\x00\x00\x01\x01"
FALSE = b"\x00\x00\x00\x01\x00"
UUID_LEN = b"\x00\x00\x00\x10"
"""The length word of a uuid field (its 16 bytes follow)."""
EMPTY_JSONB = b"\x00\x00\x00\x03\x01{}"
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_INT4 = struct.Struct(">ii").pack
_INT8 = struct.Struct(">iq").pack
_LEN = struct.Struct(">i").pack
_COUNT = struct.Struct(">h").pack


def row_start(fields: int) -> bytes:
    """The start of a row of `fields` columns."""
    return _COUNT(fields)


def uuid_field(raw: bytes) -> bytes:
    """A uuid from its 16 bytes (`uuid.UUID.bytes`)."""
    return UUID_LEN + raw


def int4(value: int) -> bytes:
    return _INT4(4, value)


def int8(value: int) -> bytes:
    return _INT8(8, value)


def int4_or_null(value: int | None) -> bytes:
    return NULL if value is None else _INT4(4, value)


def boolean(value: bool) -> bytes:
    return TRUE if value else FALSE


def text(value: str) -> bytes:
    data = value.encode("utf-8")
    return _LEN(len(data)) + data


def text_or_null(value: str | None) -> bytes:
    return NULL if value is None else text(value)


def jsonb(value: dict[str, Any]) -> bytes:
    """A JSON object as jsonb (as the pool's codec writes it: `json.dumps`)."""
    if not value:
        return EMPTY_JSONB
    data = json.dumps(value).encode("utf-8")
    return _LEN(len(data) + 1) + b"\x01" + data


def timestamptz(value: datetime) -> bytes:
    """An aware datetime (as PostgreSQL returns a timestamptz)."""
    return _INT8(8, (value - _EPOCH) // _MICROSECOND)
