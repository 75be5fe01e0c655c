from __future__ import annotations

import pytest

from core_write.queries import QUERIES, parse_sections
from indexer.streams import GroupState, acknowledged_below, format_stream_id, parse_stream_id


def test_stream_ids_round_trip() -> None:
    assert parse_stream_id(b"1700000000000-7") == (1700000000000, 7)
    assert format_stream_id((5, 0)) == "5-0"


def test_safe_point_is_the_lowest_unacknowledged_id_over_all_groups() -> None:
    idle = GroupState("indexer", last_delivered=(100, 3), pending=0, min_pending=None)
    busy = GroupState("audit", last_delivered=(120, 0), pending=4, min_pending=(90, 1))
    assert acknowledged_below([idle]) == (100, 4)
    assert acknowledged_below([idle, busy]) == (90, 1)
    assert acknowledged_below([]) is None
    fresh = GroupState("new", last_delivered=(0, 0), pending=0, min_pending=None)
    assert acknowledged_below([idle, fresh]) == (0, 1)


def test_sql_sections_parse_and_reject_duplicates() -> None:
    text = "-- name: one --\n-- does one\nSELECT 1\n\n-- name: two --\nSELECT 2\n"
    assert parse_sections(text) == {"one": "-- does one\nSELECT 1", "two": "SELECT 2"}
    with pytest.raises(ValueError, match="twice"):
        parse_sections("-- name: a --\nSELECT 1\n-- name: a --\nSELECT 2\n")
    with pytest.raises(ValueError, match="empty"):
        parse_sections("-- name: a --\n\n-- name: b --\nSELECT 2\n")
    assert "outbox_insert" in QUERIES
