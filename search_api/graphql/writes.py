"""The GraphQL mutations: `core_write` services for admin keys (their own tenant, never an
argument), tenants and keys for operator keys. Each returns what it wrote and the
consistency token to pass to a later search as `minToken` (I/O: PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate

import strawberry
from strawberry.types import Info

from core_write.errors import ValidationFailed
from core_write.services import catalog, commerce_categories, content, inventory, taxonomy
from core_write.services.tenants import (
    TenantCreate,
    TenantUpdate,
    delete_tenant,
    set_module,
    update_tenant,
)
from core_write.unit import CoreWrite, Unit, Written
from search_api import accounts
from search_api.auth import Role
from search_api.errors import Problem
from search_api.graphql.inputs import given, input_type
from search_api.graphql.reads import Context
from search_api.graphql.types import Json, Node, NodePayload, Product, ProductPayload, WritePayload
from search_api.wiring import RESOURCES

ProductCreateInput = input_type(catalog.ProductCreate)
ProductUpdateInput = input_type(catalog.ProductUpdate)
VariantCreateInput = input_type(catalog.VariantCreate)
VariantUpdateInput = input_type(catalog.VariantUpdate)
OptionCreateInput = input_type(catalog.OptionCreate)
PriceSetInput = input_type(catalog.PriceSet)
CommerceCategoryCreateInput = input_type(commerce_categories.CommerceCategoryCreate)
InventoryItemCreateInput = input_type(inventory.InventoryItemCreate)
StockLocationCreateInput = input_type(inventory.StockLocationCreate)
NodeCreateInput = input_type(content.NodeCreate)
NodeUpdateInput = input_type(content.NodeUpdate)
BodyInput = input_type(content.BodyInput)
CategoryCreateInput = input_type(taxonomy.CategoryCreate)
TagCreateInput = input_type(taxonomy.TagCreate)
TenantCreateInput = input_type(TenantCreate)
TenantUpdateInput = input_type(TenantUpdate)
KeyCreateInput = input_type(accounts.KeyCreate)
Ctx = Info[Context, None]


def role(info: Ctx, role: Role) -> Any:
    key = info.context.key
    if key.role != role:
        raise Problem(403, f"a {key.role} key may not call this mutation (needs {role})",
                      slug="forbidden")
    return key


async def write(info: Ctx, service: Callable[Concatenate[Unit, uuid.UUID, ...],
                                              Awaitable[Any]], *args: Any) -> Written[Any]:
    """Run a service for the admin key's own tenant; input errors name `input.<field>`."""
    key = role(info, "admin")
    try:
        return await CoreWrite(info.context.app[RESOURCES].pool).call(
            service, key.tenant_id, *args)
    except ValidationFailed as exc:
        if exc.field.endswith("_id") or exc.field.startswith("input."):
            raise
        raise ValidationFailed(f"input.{exc.field}",
                               exc.message.removeprefix(f"{exc.field}: ")) from None


def _plain(row: Any) -> Any:
    """A written row as JSON-safe data (ids, times and decimals as strings), never a
    password hash."""
    if isinstance(row, dict):
        row = {k: v for k, v in row.items() if "password" not in k}
    return json.loads(json.dumps(row, default=str))


def record(written: Written[Any]) -> WritePayload:
    row = written.value if isinstance(written.value, dict) else {}
    rid = row.get("id")
    return WritePayload(id=strawberry.ID(str(rid)) if rid else None, record=_plain(row),
                        consistency_token=written.token)


def product_payload(written: Written[Any]) -> ProductPayload:
    return ProductPayload(product=Product.of(written.value), consistency_token=written.token)


def node_payload(written: Written[Any]) -> NodePayload:
    return NodePayload(node=Node.of(written.value), consistency_token=written.token)


@strawberry.type
class ApiKeyPayload:
    key: str = strawberry.field(description="the key itself, shown this once")
    info: Json


@strawberry.type
class Mutation:
    # ---- catalog (admin keys) ----
    @strawberry.mutation
    async def create_product(self, info: Ctx,
                             input: ProductCreateInput) -> ProductPayload:  # type: ignore[valid-type]
        return product_payload(await write(info, catalog.create_product, given(input)))

    @strawberry.mutation
    async def update_product(self, info: Ctx, id: strawberry.ID,
                             input: ProductUpdateInput) -> ProductPayload:  # type: ignore[valid-type]
        return product_payload(await write(info, catalog.update_product, id, given(input)))

    @strawberry.mutation
    async def publish_product(self, info: Ctx, id: strawberry.ID) -> ProductPayload:
        return product_payload(await write(info, catalog.publish_product, id))

    @strawberry.mutation
    async def unpublish_product(self, info: Ctx, id: strawberry.ID,
                                status: str = "draft") -> ProductPayload:
        return product_payload(await write(info, catalog.unpublish_product, id, status))

    @strawberry.mutation
    async def delete_product(self, info: Ctx, id: strawberry.ID) -> WritePayload:
        return record(await write(info, catalog.delete_product, id))

    @strawberry.mutation
    async def create_variant(self, info: Ctx, product_id: strawberry.ID,
                             input: VariantCreateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, catalog.create_variant, product_id, given(input)))

    @strawberry.mutation
    async def update_variant(self, info: Ctx, id: strawberry.ID,
                             input: VariantUpdateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, catalog.update_variant, id, given(input)))

    @strawberry.mutation
    async def create_option(self, info: Ctx, product_id: strawberry.ID,
                            input: OptionCreateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, catalog.create_option, product_id, given(input)))

    @strawberry.mutation
    async def set_price(self, info: Ctx, variant_id: strawberry.ID,
                        input: PriceSetInput) -> WritePayload:  # type: ignore[valid-type]
        data = given(input)
        return record(await write(info, catalog.set_price, variant_id,
                                    data.get("currency_code"), data.get("amount"),
                                    data.get("price_list_id"), data.get("min_quantity", 1)))

    @strawberry.mutation
    async def create_commerce_category(
            self, info: Ctx,
            input: CommerceCategoryCreateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, commerce_categories.create_category, given(input)))

    @strawberry.mutation
    async def link_product_category(self, info: Ctx, product_id: strawberry.ID,
                                    category_id: strawberry.ID) -> WritePayload:
        return record(await write(info, commerce_categories.link_product_category,
                                    product_id, category_id))

    @strawberry.mutation
    async def unlink_product_category(self, info: Ctx, product_id: strawberry.ID,
                                      category_id: strawberry.ID) -> WritePayload:
        return record(await write(info, commerce_categories.unlink_product_category,
                                  product_id, category_id))

    # ---- inventory (admin keys) ----
    @strawberry.mutation
    async def create_inventory_item(
            self, info: Ctx,
            input: InventoryItemCreateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, inventory.create_inventory_item, given(input)))

    @strawberry.mutation
    async def create_stock_location(
            self, info: Ctx,
            input: StockLocationCreateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, inventory.create_stock_location, given(input)))

    @strawberry.mutation
    async def link_variant_inventory(self, info: Ctx, variant_id: strawberry.ID,
                                     inventory_item_id: strawberry.ID,
                                     required_quantity: int = 1) -> WritePayload:
        return record(await write(info, inventory.link_variant_inventory, variant_id,
                                    inventory_item_id, required_quantity))

    @strawberry.mutation
    async def set_stock_level(self, info: Ctx, inventory_item_id: strawberry.ID,
                              location_id: strawberry.ID, stocked_quantity: int,
                              incoming_quantity: int | None = None) -> WritePayload:
        return record(await write(info, inventory.set_stock_level, inventory_item_id,
                                    location_id, stocked_quantity, incoming_quantity))

    # ---- content (admin keys) ----
    @strawberry.mutation
    async def create_node(self, info: Ctx,
                          input: NodeCreateInput) -> NodePayload:  # type: ignore[valid-type]
        return node_payload(await write(info, content.create_node, given(input)))

    @strawberry.mutation
    async def update_node(self, info: Ctx, id: strawberry.ID,
                          input: NodeUpdateInput) -> NodePayload:  # type: ignore[valid-type]
        return node_payload(await write(info, content.update_node, id, given(input)))

    @strawberry.mutation
    async def publish_node(self, info: Ctx, id: strawberry.ID) -> NodePayload:
        return node_payload(await write(info, content.publish_node, id))

    @strawberry.mutation
    async def set_body(self, info: Ctx, id: strawberry.ID,
                       input: BodyInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, content.set_body, id, given(input)))

    @strawberry.mutation
    async def create_category(self, info: Ctx,
                              input: CategoryCreateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, taxonomy.create_category, given(input)))

    @strawberry.mutation
    async def create_tag(self, info: Ctx,
                         input: TagCreateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, taxonomy.create_tag, given(input)))

    @strawberry.mutation
    async def attach_tag(self, info: Ctx, tag_id: strawberry.ID, target_type: str,
                         target_id: strawberry.ID) -> WritePayload:
        return record(await write(info, taxonomy.attach_tag, tag_id, target_type,
                                    target_id))

    # ---- tenants and keys (operator keys) ----
    @strawberry.mutation
    async def create_tenant(self, info: Ctx,
                            input: TenantCreateInput) -> WritePayload:  # type: ignore[valid-type]
        role(info, "operator")
        spec = TenantCreate.model_validate(given(input))
        tenant, token = await accounts.add_tenant(CoreWrite(info.context.app[RESOURCES].pool),
                                                  spec)
        return WritePayload(id=strawberry.ID(str(tenant.id)),
                            record=tenant.model_dump(mode="json"), consistency_token=token)

    @strawberry.mutation
    async def update_tenant(self, info: Ctx, tenant: str,
                            input: TenantUpdateInput) -> WritePayload:  # type: ignore[valid-type]
        role(info, "operator")
        pool = info.context.app[RESOURCES].pool
        found = await accounts.show_tenant(pool, tenant)
        return record(await CoreWrite(pool).call(update_tenant, found.id, given(input)))

    @strawberry.mutation
    async def delete_tenant(self, info: Ctx, tenant: str) -> WritePayload:
        """Delete a tenant and everything it owns."""
        role(info, "operator")
        pool = info.context.app[RESOURCES].pool
        found = await accounts.show_tenant(pool, tenant)
        written = await CoreWrite(pool).call(delete_tenant, found.id)
        return WritePayload(id=strawberry.ID(str(found.id)), record={"slug": found.slug},
                            consistency_token=written.token)

    @strawberry.mutation
    async def set_module(self, info: Ctx, tenant: str, module: str,
                         enabled: bool) -> WritePayload:
        role(info, "operator")
        pool = info.context.app[RESOURCES].pool
        found = await accounts.show_tenant(pool, tenant)
        return record(await CoreWrite(pool).call(set_module, found.id, module, enabled))

    @strawberry.mutation
    async def create_api_key(self, info: Ctx,
                             input: KeyCreateInput) -> ApiKeyPayload:  # type: ignore[valid-type]
        role(info, "operator")
        spec = accounts.KeyCreate.model_validate(given(input))
        new = await accounts.issue_key(info.context.app[RESOURCES].pool, spec)
        return ApiKeyPayload(key=new.key, info=accounts.key_json(new.info))

    @strawberry.mutation
    async def revoke_api_key(self, info: Ctx, id: uuid.UUID) -> Json:
        role(info, "operator")
        return accounts.key_json(await accounts.revoke_key(info.context.app[RESOURCES].pool,
                                                           id))

    @strawberry.mutation
    async def rotate_api_key(self, info: Ctx, id: uuid.UUID) -> ApiKeyPayload:
        role(info, "operator")
        new = await accounts.rotate_key(info.context.app[RESOURCES].pool, id)
        return ApiKeyPayload(key=new.key, info=accounts.key_json(new.info))
