"""The base of every domain event: its frozen, strict model and the aggregate whose order
matters (pure)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    """Base of every domain event; `aggregate` names the entity whose order matters."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    aggregate_type: ClassVar[str]
    aggregate_field: ClassVar[str]

    @property
    def aggregate(self) -> tuple[str, uuid.UUID]:
        return self.aggregate_type, getattr(self, self.aggregate_field)
