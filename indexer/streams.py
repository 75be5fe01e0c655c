"""Redis stream ids and the safe trim point of consumer groups (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

StreamId = tuple[int, int]


def parse_stream_id(raw: bytes | str) -> StreamId:
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def format_stream_id(stream_id: StreamId) -> str:
    return f"{stream_id[0]}-{stream_id[1]}"


def next_id(stream_id: StreamId) -> StreamId:
    return stream_id[0], stream_id[1] + 1


@dataclass(frozen=True)
class GroupState:
    """What `XINFO GROUPS` and `XPENDING` say of one consumer group."""

    name: str
    last_delivered: StreamId
    pending: int
    min_pending: StreamId | None


def acknowledged_below(groups: Iterable[GroupState]) -> StreamId | None:
    """The lowest id that some group has not acknowledged: every entry below it was delivered
    to and acknowledged by every group. None when there is no group (then nothing is safe)."""
    points = [
        group.min_pending if group.pending and group.min_pending is not None
        else next_id(group.last_delivered)
        for group in groups
    ]
    return min(points) if points else None
