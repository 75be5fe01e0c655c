"""The Tantivy engine loader of a full reindex: the rows a generation-table rebuild builds go
straight into a new Tantivy generation of the follower this process runs, instead of through
`engine_queue` (I/O: through the follower).

The elected engine writer registers its live follower here (`register`), so the reindex
jobs that process runs use the loader; any other process gets None and Tantivy follows
through the queue as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from indexer.fanout import DocType
from indexer.tantivy import gateway
from indexer.tantivy.config import DOC_TYPES
from indexer.tantivy.follower import TantivyFollower


def as_text(columns: str) -> str:
    """The columns, ids as text: the documents want strings, and asyncpg making UUID objects
    that the mapping turns back into strings costs the busy event loop twice."""
    out = []
    for column in (c.strip() for c in columns.split(",")):
        if column.endswith("_id"):
            column = f"{column}::text AS {column}"
        elif column.endswith("_ids"):
            column = f"{column}::text[] AS {column}"
        out.append(column)
    return ", ".join(out)


@dataclass
class FollowerLoader:
    """Feeds the rows a rebuild builds into a new generation of `follower` (an
    `indexer.rebuild.EngineLoader`)."""

    follower: TantivyFollower
    engine: str = "tantivy"
    columns: Mapping[DocType, str] = field(
        default_factory=lambda: {dt: as_text(gateway.TABLES[dt][2]) for dt in DOC_TYPES})

    async def load(self, doc_type: DocType, rows: AsyncIterator[Any]) -> None:
        await self.follower.rebuild(doc_type, rows)


_live: list[TantivyFollower] = []


@contextmanager
def register(follower: TantivyFollower) -> Iterator[None]:
    """While the block runs, reindex jobs of this process may load into `follower`."""
    _live.append(follower)
    try:
        yield
    finally:
        _live.remove(follower)


def live_loader(doc_type: DocType | None = None) -> FollowerLoader | None:
    """A loader into this process's live follower, or None: no follower here, or it is
    rebuilding a generation of `doc_type` already (any, without a type)."""
    if not _live:
        return None
    follower = _live[-1]
    if follower.rebuilding(doc_type):
        return None
    return FollowerLoader(follower)
