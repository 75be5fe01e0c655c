"""Events of the catalog: products, variants, options, prices, category links, commerce
categories, inventory and stock locations (pure)."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from core_write.events.base import Event


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
