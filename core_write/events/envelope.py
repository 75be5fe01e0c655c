"""The envelope that travels through the outbox and Redis, the union of every domain event
(discriminated by `type`) and its parsing (pure)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from core_write.events import catalog, content, orders, reindex, tenants

DomainEvent = Annotated[
    Union[
        tenants.TenantCreated, tenants.TenantUpdated, tenants.TenantDeleted, tenants.ModuleToggled,
        tenants.UserRegistered, tenants.UserUpdated, tenants.UserLoggedIn, tenants.UserDeleted,
        content.NodeCreated, content.NodeUpdated, content.NodePublished, content.NodeUnpublished,
        content.NodeDeleted, content.BodyUpdated, content.CategoryCreated, content.CategoryUpdated,
        content.CategoryDeleted, content.TagCreated, content.TagUpdated, content.TagDeleted,
        content.TagAttached, content.TagDetached, content.MetaUpdated, content.MetaDeleted,
        content.MediaCreated, content.MediaUpdated, content.MediaDeleted, catalog.ProductCreated,
        catalog.ProductUpdated, catalog.ProductPublished, catalog.ProductUnpublished,
        catalog.ProductDeleted, catalog.VariantCreated, catalog.VariantUpdated,
        catalog.VariantDeleted, catalog.OptionCreated, catalog.OptionUpdated,
        catalog.OptionDeleted, catalog.PriceChanged, catalog.PriceDeleted,
        catalog.ProductCategoryLinked, catalog.ProductCategoryUnlinked,
        catalog.CommerceCategoryCreated, catalog.CommerceCategoryUpdated,
        catalog.CommerceCategoryDeleted, catalog.InventoryItemCreated,
        catalog.InventoryItemUpdated, catalog.InventoryItemDeleted, catalog.VariantInventoryLinked,
        catalog.VariantInventoryUnlinked, catalog.InventoryUpdated, catalog.InventoryLow,
        catalog.StockLocationCreated, catalog.StockLocationUpdated, catalog.StockLocationDeleted,
        orders.OrderPlaced, orders.OrderUpdated, orders.OrderStatusChanged, orders.OrderCompleted,
        orders.OrderCancelled, orders.OrderDeleted, reindex.ReindexRequested, reindex.RowChanged,
    ],
    Field(discriminator="type"),
]

_EVENT_ADAPTER: TypeAdapter[DomainEvent] = TypeAdapter(DomainEvent)


class EventEnvelope(BaseModel):
    """What travels through the outbox and the stream: one event with its identity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID
    tenant_id: uuid.UUID
    timestamp: datetime
    event: DomainEvent

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, raw: str | bytes) -> EventEnvelope:
        return cls.model_validate_json(raw)


def parse_event(data: object) -> DomainEvent:
    """Validate a decoded event payload (a dict with a `type`)."""
    return _EVENT_ADAPTER.validate_python(data)


EVENT_TYPES: frozenset[str] = frozenset(
    member.model_fields["type"].default for member in DomainEvent.__origin__.__args__  # type: ignore[attr-defined]
)
