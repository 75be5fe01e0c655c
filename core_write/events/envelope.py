"""The envelope that travels through the outbox and Redis, the union of every domain event
(discriminated by `type`) and its parsing (pure)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from core_write.events.catalog import (
    CommerceCategoryCreated,
    CommerceCategoryDeleted,
    CommerceCategoryUpdated,
    InventoryItemCreated,
    InventoryItemDeleted,
    InventoryItemUpdated,
    InventoryLow,
    InventoryUpdated,
    OptionCreated,
    OptionDeleted,
    OptionUpdated,
    PriceChanged,
    PriceDeleted,
    ProductCategoryLinked,
    ProductCategoryUnlinked,
    ProductCreated,
    ProductDeleted,
    ProductPublished,
    ProductUnpublished,
    ProductUpdated,
    StockLocationCreated,
    StockLocationDeleted,
    StockLocationUpdated,
    VariantCreated,
    VariantDeleted,
    VariantInventoryLinked,
    VariantInventoryUnlinked,
    VariantUpdated,
)
from core_write.events.content import (
    BodyUpdated,
    CategoryCreated,
    CategoryDeleted,
    CategoryUpdated,
    MediaCreated,
    MediaDeleted,
    MediaUpdated,
    MetaDeleted,
    MetaUpdated,
    NodeCreated,
    NodeDeleted,
    NodePublished,
    NodeUnpublished,
    NodeUpdated,
    TagAttached,
    TagCreated,
    TagDeleted,
    TagDetached,
    TagUpdated,
)
from core_write.events.orders import (
    OrderCancelled,
    OrderCompleted,
    OrderDeleted,
    OrderPlaced,
    OrderStatusChanged,
    OrderUpdated,
)
from core_write.events.reindex import (
    ReindexRequested,
    RowChanged,
)
from core_write.events.tenants import (
    ModuleToggled,
    TenantCreated,
    TenantDeleted,
    TenantUpdated,
    UserDeleted,
    UserLoggedIn,
    UserRegistered,
    UserUpdated,
)

DomainEvent = Annotated[
    Union[
        TenantCreated, TenantUpdated, TenantDeleted, ModuleToggled,
        UserRegistered, UserUpdated, UserLoggedIn, UserDeleted,
        NodeCreated, NodeUpdated, NodePublished, NodeUnpublished, NodeDeleted, BodyUpdated,
        CategoryCreated, CategoryUpdated, CategoryDeleted,
        TagCreated, TagUpdated, TagDeleted, TagAttached, TagDetached,
        MetaUpdated, MetaDeleted, MediaCreated, MediaUpdated, MediaDeleted,
        ProductCreated, ProductUpdated, ProductPublished, ProductUnpublished, ProductDeleted,
        VariantCreated, VariantUpdated, VariantDeleted,
        OptionCreated, OptionUpdated, OptionDeleted, PriceChanged, PriceDeleted,
        ProductCategoryLinked, ProductCategoryUnlinked,
        CommerceCategoryCreated, CommerceCategoryUpdated, CommerceCategoryDeleted,
        InventoryItemCreated, InventoryItemUpdated, InventoryItemDeleted,
        VariantInventoryLinked, VariantInventoryUnlinked, InventoryUpdated, InventoryLow,
        StockLocationCreated, StockLocationUpdated, StockLocationDeleted,
        OrderPlaced, OrderUpdated, OrderStatusChanged, OrderCompleted, OrderCancelled,
        OrderDeleted, ReindexRequested, RowChanged,
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
