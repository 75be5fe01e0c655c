"""The domain event catalog (manifest 6.1 plus the events it lacks) as pydantic models with a
`type` discriminator, and the envelope that travels through the outbox and Redis (pure).

Events name what changed, never the new state: consumers rebuild documents from the current
source rows (DESIGN invariant 2), so a payload only carries ids and the few facts a consumer
cannot read back after the change (old values, ids of deleted rows).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class Event(BaseModel):
    """Base of every domain event; `aggregate` names the entity whose order matters."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    aggregate_type: ClassVar[str]
    aggregate_field: ClassVar[str]

    @property
    def aggregate(self) -> tuple[str, uuid.UUID]:
        return self.aggregate_type, getattr(self, self.aggregate_field)


# ---- tenants, modules, users --------------------------------------------------------------
class TenantEvent(Event):
    aggregate_type: ClassVar[str] = "tenant"
    aggregate_field: ClassVar[str] = "tenant_id"
    tenant_id: uuid.UUID


class TenantCreated(TenantEvent):
    type: Literal["TenantCreated"] = "TenantCreated"
    slug: str


class TenantUpdated(TenantEvent):
    type: Literal["TenantUpdated"] = "TenantUpdated"
    changed: list[str]


class TenantDeleted(TenantEvent):
    type: Literal["TenantDeleted"] = "TenantDeleted"


class ModuleToggled(TenantEvent):
    type: Literal["ModuleToggled"] = "ModuleToggled"
    module_slug: str
    enabled: bool


class UserEvent(Event):
    aggregate_type: ClassVar[str] = "user"
    aggregate_field: ClassVar[str] = "user_id"
    user_id: uuid.UUID


class UserRegistered(UserEvent):
    type: Literal["UserRegistered"] = "UserRegistered"
    email: str


class UserUpdated(UserEvent):
    """`changed` lists the columns; a change of `display_name` or `email` renames an author."""

    type: Literal["UserUpdated"] = "UserUpdated"
    changed: list[str]


class UserLoggedIn(UserEvent):
    type: Literal["UserLoggedIn"] = "UserLoggedIn"


class UserDeleted(UserEvent):
    type: Literal["UserDeleted"] = "UserDeleted"


# ---- content -------------------------------------------------------------------------------
class NodeEvent(Event):
    aggregate_type: ClassVar[str] = "node"
    aggregate_field: ClassVar[str] = "node_id"
    node_id: uuid.UUID


class NodeCreated(NodeEvent):
    type: Literal["NodeCreated"] = "NodeCreated"
    kind: str
    author_id: uuid.UUID | None = None
    parent_id: uuid.UUID | None = None


class NodeUpdated(NodeEvent):
    """`old_parent_id`/`old_category_id` let a consumer refresh what the node left."""

    type: Literal["NodeUpdated"] = "NodeUpdated"
    changed: list[str] = Field(default_factory=list)
    old_parent_id: uuid.UUID | None = None
    old_category_id: uuid.UUID | None = None


class NodePublished(NodeEvent):
    type: Literal["NodePublished"] = "NodePublished"
    kind: str


class NodeUnpublished(NodeEvent):
    type: Literal["NodeUnpublished"] = "NodeUnpublished"
    kind: str
    status: str


class NodeDeleted(NodeEvent):
    type: Literal["NodeDeleted"] = "NodeDeleted"
    kind: str
    parent_id: uuid.UUID | None = None


class BodyUpdated(NodeEvent):
    type: Literal["BodyUpdated"] = "BodyUpdated"


class CategoryEvent(Event):
    aggregate_type: ClassVar[str] = "category"
    aggregate_field: ClassVar[str] = "category_id"
    category_id: uuid.UUID


class CategoryCreated(CategoryEvent):
    type: Literal["CategoryCreated"] = "CategoryCreated"


class CategoryUpdated(CategoryEvent):
    """A rename or move: every node in the category changes its document."""

    type: Literal["CategoryUpdated"] = "CategoryUpdated"
    changed: list[str]


class CategoryDeleted(CategoryEvent):
    type: Literal["CategoryDeleted"] = "CategoryDeleted"


class TagEvent(Event):
    aggregate_type: ClassVar[str] = "tag"
    aggregate_field: ClassVar[str] = "tag_id"
    tag_id: uuid.UUID


class TagCreated(TagEvent):
    type: Literal["TagCreated"] = "TagCreated"


class TagUpdated(TagEvent):
    """A rename: every tagged target changes its document."""

    type: Literal["TagUpdated"] = "TagUpdated"
    changed: list[str]


class TagDeleted(TagEvent):
    type: Literal["TagDeleted"] = "TagDeleted"


class TagAttached(TagEvent):
    type: Literal["TagAttached"] = "TagAttached"
    target_type: str
    target_id: uuid.UUID


class TagDetached(TagEvent):
    type: Literal["TagDetached"] = "TagDetached"
    target_type: str
    target_id: uuid.UUID


class MetaEvent(Event):
    aggregate_type: ClassVar[str] = "meta"
    aggregate_field: ClassVar[str] = "target_id"
    target_type: str
    target_id: uuid.UUID


class MetaUpdated(MetaEvent):
    type: Literal["MetaUpdated"] = "MetaUpdated"


class MetaDeleted(MetaEvent):
    type: Literal["MetaDeleted"] = "MetaDeleted"


class MediaEvent(Event):
    aggregate_type: ClassVar[str] = "media"
    aggregate_field: ClassVar[str] = "media_id"
    media_id: uuid.UUID


class MediaCreated(MediaEvent):
    type: Literal["MediaCreated"] = "MediaCreated"


class MediaUpdated(MediaEvent):
    type: Literal["MediaUpdated"] = "MediaUpdated"


class MediaDeleted(MediaEvent):
    type: Literal["MediaDeleted"] = "MediaDeleted"


# ---- catalog -------------------------------------------------------------------------------
class ProductEvent(Event):
    aggregate_type: ClassVar[str] = "product"
    aggregate_field: ClassVar[str] = "product_id"
    product_id: uuid.UUID


class ProductCreated(ProductEvent):
    type: Literal["ProductCreated"] = "ProductCreated"


class ProductUpdated(ProductEvent):
    type: Literal["ProductUpdated"] = "ProductUpdated"
    changed: list[str] = Field(default_factory=list)


class ProductPublished(ProductEvent):
    type: Literal["ProductPublished"] = "ProductPublished"


class ProductUnpublished(ProductEvent):
    type: Literal["ProductUnpublished"] = "ProductUnpublished"
    status: str


class ProductDeleted(ProductEvent):
    type: Literal["ProductDeleted"] = "ProductDeleted"


class VariantCreated(ProductEvent):
    type: Literal["VariantCreated"] = "VariantCreated"
    variant_id: uuid.UUID


class VariantUpdated(ProductEvent):
    type: Literal["VariantUpdated"] = "VariantUpdated"
    variant_id: uuid.UUID
    changed: list[str] = Field(default_factory=list)


class VariantDeleted(ProductEvent):
    type: Literal["VariantDeleted"] = "VariantDeleted"
    variant_id: uuid.UUID


class OptionCreated(ProductEvent):
    type: Literal["OptionCreated"] = "OptionCreated"
    option_id: uuid.UUID


class OptionUpdated(ProductEvent):
    """An option's title or any of its values changed."""

    type: Literal["OptionUpdated"] = "OptionUpdated"
    option_id: uuid.UUID


class OptionDeleted(ProductEvent):
    type: Literal["OptionDeleted"] = "OptionDeleted"
    option_id: uuid.UUID


class PriceChanged(ProductEvent):
    """A price was created or its amount changed."""

    type: Literal["PriceChanged"] = "PriceChanged"
    price_id: uuid.UUID
    variant_id: uuid.UUID
    currency_code: str
    old_amount: int | None = None
    new_amount: int


class PriceDeleted(ProductEvent):
    type: Literal["PriceDeleted"] = "PriceDeleted"
    price_id: uuid.UUID
    variant_id: uuid.UUID
    currency_code: str


class ProductCategoryLinked(ProductEvent):
    type: Literal["ProductCategoryLinked"] = "ProductCategoryLinked"
    category_id: uuid.UUID


class ProductCategoryUnlinked(ProductEvent):
    type: Literal["ProductCategoryUnlinked"] = "ProductCategoryUnlinked"
    category_id: uuid.UUID


class CommerceCategoryEvent(Event):
    aggregate_type: ClassVar[str] = "commerce_category"
    aggregate_field: ClassVar[str] = "category_id"
    category_id: uuid.UUID


class CommerceCategoryCreated(CommerceCategoryEvent):
    type: Literal["CommerceCategoryCreated"] = "CommerceCategoryCreated"


class CommerceCategoryUpdated(CommerceCategoryEvent):
    """A rename or move: every product in the category changes its document."""

    type: Literal["CommerceCategoryUpdated"] = "CommerceCategoryUpdated"
    changed: list[str]


class CommerceCategoryDeleted(CommerceCategoryEvent):
    type: Literal["CommerceCategoryDeleted"] = "CommerceCategoryDeleted"


class InventoryItemEvent(Event):
    aggregate_type: ClassVar[str] = "inventory_item"
    aggregate_field: ClassVar[str] = "inventory_item_id"
    inventory_item_id: uuid.UUID


class InventoryItemCreated(InventoryItemEvent):
    type: Literal["InventoryItemCreated"] = "InventoryItemCreated"


class InventoryItemUpdated(InventoryItemEvent):
    type: Literal["InventoryItemUpdated"] = "InventoryItemUpdated"


class InventoryItemDeleted(InventoryItemEvent):
    """`variant_ids` are the variants it stocked: their products' stock changes."""

    type: Literal["InventoryItemDeleted"] = "InventoryItemDeleted"
    variant_ids: list[uuid.UUID] = Field(default_factory=list)


class VariantInventoryLinked(InventoryItemEvent):
    type: Literal["VariantInventoryLinked"] = "VariantInventoryLinked"
    variant_id: uuid.UUID
    product_id: uuid.UUID


class VariantInventoryUnlinked(InventoryItemEvent):
    type: Literal["VariantInventoryUnlinked"] = "VariantInventoryUnlinked"
    variant_id: uuid.UUID
    product_id: uuid.UUID


class InventoryUpdated(InventoryItemEvent):
    """A stock level was created, changed (stocked or reserved) or deleted."""

    type: Literal["InventoryUpdated"] = "InventoryUpdated"
    location_id: uuid.UUID
    old_quantity: int
    new_quantity: int
    old_reserved: int = 0
    new_reserved: int = 0


class InventoryLow(Event):
    aggregate_type: ClassVar[str] = "variant"
    aggregate_field: ClassVar[str] = "variant_id"
    type: Literal["InventoryLow"] = "InventoryLow"
    variant_id: uuid.UUID
    product_id: uuid.UUID
    remaining: int
    threshold: int


class StockLocationEvent(Event):
    aggregate_type: ClassVar[str] = "stock_location"
    aggregate_field: ClassVar[str] = "location_id"
    location_id: uuid.UUID


class StockLocationCreated(StockLocationEvent):
    type: Literal["StockLocationCreated"] = "StockLocationCreated"


class StockLocationUpdated(StockLocationEvent):
    type: Literal["StockLocationUpdated"] = "StockLocationUpdated"


class StockLocationDeleted(StockLocationEvent):
    """`inventory_item_ids` had levels there: their variants' stock changes."""

    type: Literal["StockLocationDeleted"] = "StockLocationDeleted"
    inventory_item_ids: list[uuid.UUID] = Field(default_factory=list)


class OrderEvent(Event):
    aggregate_type: ClassVar[str] = "order"
    aggregate_field: ClassVar[str] = "order_id"
    order_id: uuid.UUID


class OrderPlaced(OrderEvent):
    type: Literal["OrderPlaced"] = "OrderPlaced"
    customer_id: uuid.UUID | None = None
    total: int


class OrderUpdated(OrderEvent):
    type: Literal["OrderUpdated"] = "OrderUpdated"
    changed: list[str]


class OrderStatusChanged(OrderEvent):
    type: Literal["OrderStatusChanged"] = "OrderStatusChanged"
    old_status: str
    new_status: str


class OrderCompleted(OrderEvent):
    type: Literal["OrderCompleted"] = "OrderCompleted"


class OrderCancelled(OrderEvent):
    type: Literal["OrderCancelled"] = "OrderCancelled"
    reason: str | None = None


class OrderDeleted(OrderEvent):
    type: Literal["OrderDeleted"] = "OrderDeleted"


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
