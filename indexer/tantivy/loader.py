"""The Tantivy engine loader of a full reindex: the rows a generation-table rebuild builds go
straight into a new Tantivy generation of the follower this process runs, instead of through
`engine_queue` (I/O: through the follower).

A `LiveFollower` is made where the indexer's tasks are wired (`indexer.engines`) and passed
both to the engine body, which puts its follower there while it runs (`hold`), and to the
reindex job runner, which asks it for a loader: in the elected engine writer's process the
jobs load Tantivy directly; anywhere else it answers None and Tantivy follows through the
queue as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from indexer.model import DOC_TYPES, SPECS, DocType
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
        default_factory=lambda: {dt: as_text(SPECS[dt].columns) for dt in DOC_TYPES})

    async def load(self, doc_type: DocType, rows: AsyncIterator[Any]) -> None:
        await self.follower.rebuild(doc_type, rows)


class LiveFollower:
    """The Tantivy follower running in this process, if any."""

    def __init__(self) -> None:
        self.follower: TantivyFollower | None = None

    @contextmanager
    def hold(self, follower: TantivyFollower) -> Iterator[None]:
        """While the block runs, reindex jobs given this object may load into `follower`."""
        self.follower = follower
        try:
            yield
        finally:
            self.follower = None

    def loader(self, doc_type: DocType | None = None) -> FollowerLoader | None:
        """A loader into the live follower, or None: no follower runs, or it is rebuilding a
        generation of `doc_type` already (any, without a type)."""
        follower = self.follower
        if follower is None or follower.rebuilding(doc_type):
            return None
        return FollowerLoader(follower)
