"""GraphQL mutations that change or remove what the create mutations wrote (admin keys, their
own tenant): options, variants, prices, both kinds of categories, inventory items, stock
locations, levels and links, media, meta, tags, users and orders (I/O: PostgreSQL through
`core_write`)."""

from __future__ import annotations

import strawberry

from core_write.services import (
    catalog,
    commerce_categories,
    inventory,
    media,
    orders,
    seo,
    taxonomy,
    users,
)
from search_api.graphql.inputs import given, input_type
from search_api.graphql.types import WritePayload
from search_api.graphql.writes import Ctx, record, write

OptionUpdateInput = input_type(catalog.OptionUpdate)
CommerceCategoryUpdateInput = input_type(commerce_categories.CommerceCategoryUpdate)
InventoryItemUpdateInput = input_type(inventory.InventoryItemUpdate)
StockLocationUpdateInput = input_type(inventory.StockLocationUpdate)
MediaUpdateInput = input_type(media.MediaUpdate)
CategoryUpdateInput = input_type(taxonomy.CategoryUpdate)
ID = strawberry.ID


@strawberry.type
class ChangeMutation:
    @strawberry.mutation
    async def update_option(self, info: Ctx, id: ID,
                            input: OptionUpdateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, catalog.update_option, id, given(input)))

    @strawberry.mutation
    async def delete_option(self, info: Ctx, id: ID) -> WritePayload:
        return record(await write(info, catalog.delete_option, id))

    @strawberry.mutation
    async def delete_variant(self, info: Ctx, id: ID) -> WritePayload:
        return record(await write(info, catalog.delete_variant, id))

    @strawberry.mutation
    async def delete_price(self, info: Ctx, id: ID) -> WritePayload:
        return record(await write(info, catalog.delete_price, id))

    @strawberry.mutation
    async def update_commerce_category(
            self, info: Ctx, id: ID,
            input: CommerceCategoryUpdateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, commerce_categories.update_category, id, given(input)))

    @strawberry.mutation
    async def delete_commerce_category(self, info: Ctx, id: ID) -> WritePayload:
        return record(await write(info, commerce_categories.delete_category, id))

    @strawberry.mutation
    async def update_inventory_item(
            self, info: Ctx, id: ID,
            input: InventoryItemUpdateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, inventory.update_inventory_item, id, given(input)))

    @strawberry.mutation
    async def delete_inventory_item(self, info: Ctx, id: ID) -> WritePayload:
        return record(await write(info, inventory.delete_inventory_item, id))

    @strawberry.mutation
    async def update_stock_location(
            self, info: Ctx, id: ID,
            input: StockLocationUpdateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, inventory.update_stock_location, id, given(input)))

    @strawberry.mutation
    async def delete_stock_location(self, info: Ctx, id: ID) -> WritePayload:
        return record(await write(info, inventory.delete_stock_location, id))

    @strawberry.mutation
    async def unlink_variant_inventory(self, info: Ctx, variant_id: ID,
                                       inventory_item_id: ID) -> WritePayload:
        return record(await write(info, inventory.unlink_variant_inventory, variant_id,
                                  inventory_item_id))

    @strawberry.mutation
    async def adjust_stock(self, info: Ctx, inventory_item_id: ID, location_id: ID,
                           delta: int) -> WritePayload:
        return record(await write(info, inventory.adjust_stock, inventory_item_id,
                                  location_id, delta))

    @strawberry.mutation
    async def delete_stock_level(self, info: Ctx, inventory_item_id: ID,
                                 location_id: ID) -> WritePayload:
        return record(await write(info, inventory.delete_stock_level, inventory_item_id,
                                  location_id))

    @strawberry.mutation
    async def update_media(self, info: Ctx, id: ID,
                           input: MediaUpdateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, media.update_media, id, given(input)))

    @strawberry.mutation
    async def delete_media(self, info: Ctx, id: ID) -> WritePayload:
        return record(await write(info, media.delete_media, id))

    @strawberry.mutation
    async def delete_meta(self, info: Ctx, target_type: str, target_id: ID) -> WritePayload:
        return record(await write(info, seo.delete_meta, target_type, target_id))

    @strawberry.mutation
    async def update_category(self, info: Ctx, id: ID,
                              input: CategoryUpdateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, taxonomy.update_category, id, given(input)))

    @strawberry.mutation
    async def delete_category(self, info: Ctx, id: ID) -> WritePayload:
        return record(await write(info, taxonomy.delete_category, id))

    @strawberry.mutation
    async def delete_tag(self, info: Ctx, id: ID) -> WritePayload:
        return record(await write(info, taxonomy.delete_tag, id))

    @strawberry.mutation
    async def delete_user(self, info: Ctx, id: ID) -> WritePayload:
        return record(await write(info, users.delete_user, id))

    @strawberry.mutation
    async def delete_order(self, info: Ctx, id: ID) -> WritePayload:
        return record(await write(info, orders.delete_order, id))
