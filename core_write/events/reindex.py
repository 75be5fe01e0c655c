"""Events that change documents without a domain write: a requested reindex, and rows
changed by writers outside core_write (capture triggers) (pure)."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from core_write.events.base import Event

REINDEX_IDS_MAX = 500
"""Documents one `ReindexRequested` may name (the capture triggers' CHUNK as well)."""


class ReindexRequested(Event):
    aggregate_type: ClassVar[str] = "reindex"
    aggregate_field: ClassVar[str] = "request_id"
    type: Literal["ReindexRequested"] = "ReindexRequested"
    request_id: uuid.UUID
    target_type: Literal["products", "content"]
    target_id: uuid.UUID | None = None
    target_ids: list[uuid.UUID] = Field(default_factory=list, max_length=REINDEX_IDS_MAX)
    """Several documents at once (a bulk import's chunk: one event for up to
    `REINDEX_IDS_MAX` documents instead of one per row); with neither id, the whole tenant."""


class RowChanged(Event):
    """Rows changed by a writer outside core_write, recorded by the capture triggers of
    migration 0013 in the writer's transaction: `keys` are the values of the table's fan-out
    column (a price's variant, a tag link's target; at most 500), `kind` the target type of
    polymorphic links, `changed` the columns an UPDATE changed; a TRUNCATE has no keys."""

    aggregate_type: ClassVar[str] = "row"
    aggregate_field: ClassVar[str] = "keys"
    type: Literal["RowChanged"] = "RowChanged"
    table: str
    op: Literal["insert", "update", "delete", "truncate"]
    kind: str | None = None
    keys: list[uuid.UUID] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)

    @property
    def aggregate(self) -> tuple[str, uuid.UUID]:
        return self.aggregate_type, self.keys[0] if self.keys else uuid.UUID(int=0)
