from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from core_write.errors import Conflict, ModuleDisabled, NotFound, TenantMismatch, ValidationFailed
from core_write.services import inventory, tenants
from core_write.unit import CoreWrite
from tests.builders import (
    events_after,
    make_inventory_item,
    make_product,
    make_stock_location,
    make_tenant,
    make_variant,
    outbox_mark,
)


@pytest.fixture
async def shop(core: CoreWrite) -> dict[str, Any]:
    return await make_tenant(core)


async def level(pool: asyncpg.Pool, item: dict[str, Any], location: dict[str, Any]
                ) -> tuple[int, int, int] | None:
    row = await pool.fetchrow(
        "SELECT stocked_quantity, reserved_quantity, incoming_quantity "
        "FROM commerce_inventory_levels WHERE inventory_item_id = $1 AND location_id = $2",
        item["id"], location["id"])
    return None if row is None else (row[0], row[1], row[2])


async def test_inventory_item_lifecycle(core: CoreWrite, pool: asyncpg.Pool,
                                        shop: dict[str, Any]) -> None:
    tid = shop["id"]
    mark = await outbox_mark(pool)
    item = (await core.call(inventory.create_inventory_item, tid, {"sku": "INV-1"})).value
    assert item["requires_shipping"] is True and item["tenant_id"] == tid
    await core.call(inventory.update_inventory_item, tid, item["id"], {"sku": "INV-1"})  # no-op
    updated = (await core.call(inventory.update_inventory_item, tid, item["id"],
                               {"requires_shipping": False})).value
    assert updated["requires_shipping"] is False
    product = await make_product(core, tid)
    variant = await make_variant(core, tid, product["id"])
    await core.call(inventory.link_variant_inventory, tid, variant["id"], item["id"])
    await core.call(inventory.delete_inventory_item, tid, item["id"])
    assert await pool.fetchval("SELECT count(*) FROM commerce_variant_inventory") == 0
    events = await events_after(pool, mark)
    assert [e["type"] for e in events] == [
        "InventoryItemCreated", "InventoryItemUpdated", "ProductCreated", "VariantCreated",
        "VariantInventoryLinked", "InventoryItemDeleted"]
    assert events[-1] == {"type": "InventoryItemDeleted", "inventory_item_id": str(item["id"]),
                          "variant_ids": [str(variant["id"])]}


async def test_item_sku_unique_per_tenant_only(core: CoreWrite, pool: asyncpg.Pool,
                                               shop: dict[str, Any]) -> None:
    other = await make_tenant(core)
    await make_inventory_item(core, shop["id"], sku="BOLT")
    await make_inventory_item(core, other["id"], sku="BOLT")
    await make_inventory_item(core, shop["id"], sku=None)
    await make_inventory_item(core, shop["id"], sku=None)
    mark = await outbox_mark(pool)
    with pytest.raises(Conflict) as info:
        await make_inventory_item(core, shop["id"], sku="BOLT")
    assert info.value.field == "sku"
    assert await pool.fetchval("SELECT count(*) FROM commerce_inventory_items") == 4
    assert await events_after(pool, mark) == []


@pytest.mark.parametrize(("service", "data", "field"), [
    (inventory.create_inventory_item, {"sku": ""}, "sku"),
    (inventory.create_inventory_item, {"sku": "x" * 65}, "sku"),
    (inventory.create_inventory_item, {"requires_shipping": "often"}, "requires_shipping"),
    (inventory.create_inventory_item, {"weight": 3}, "weight"),
    (inventory.create_stock_location, {"name": ""}, "name"),
    (inventory.create_stock_location, {}, "name"),
    (inventory.create_stock_location, {"name": "x", "address": "Main St"}, "address"),
])
async def test_bad_item_and_location_input_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], service: Any,
    data: dict[str, Any], field: str
) -> None:
    mark = await outbox_mark(pool)
    with pytest.raises(ValidationFailed) as info:
        await core.call(service, shop["id"], data)
    assert info.value.field == field
    assert await events_after(pool, mark) == []


async def test_stock_location_delete_names_items_stocked_there(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    tid = shop["id"]
    location = await make_stock_location(core, tid, address={"city": "Porto"})
    a, b = await make_inventory_item(core, tid), await make_inventory_item(core, tid)
    await core.call(inventory.set_stock_level, tid, a["id"], location["id"], 3)
    await core.call(inventory.set_stock_level, tid, b["id"], location["id"], 4)
    mark = await outbox_mark(pool)
    await core.call(inventory.update_stock_location, tid, location["id"], {"name": "Main"})
    await core.call(inventory.update_stock_location, tid, location["id"], {"name": "Main"})
    await core.call(inventory.delete_stock_location, tid, location["id"])
    assert await pool.fetchval("SELECT count(*) FROM commerce_inventory_levels") == 0
    assert await events_after(pool, mark) == [
        {"type": "StockLocationUpdated", "location_id": str(location["id"])},
        {"type": "StockLocationDeleted", "location_id": str(location["id"]),
         "inventory_item_ids": sorted([str(a["id"]), str(b["id"])])}]


async def test_link_variant_inventory(core: CoreWrite, pool: asyncpg.Pool,
                                      shop: dict[str, Any]) -> None:
    tid = shop["id"]
    product = await make_product(core, tid)
    variant = await make_variant(core, tid, product["id"])
    item = await make_inventory_item(core, tid)
    mark = await outbox_mark(pool)
    await core.call(inventory.link_variant_inventory, tid, variant["id"], item["id"])
    await core.call(inventory.link_variant_inventory, tid, variant["id"], item["id"])  # no-op
    relinked = (await core.call(inventory.link_variant_inventory, tid, variant["id"],
                                item["id"], 2)).value
    assert relinked["required_quantity"] == 2
    await core.call(inventory.unlink_variant_inventory, tid, variant["id"], item["id"])
    await core.call(inventory.unlink_variant_inventory, tid, variant["id"], item["id"])  # no-op
    with pytest.raises(ValidationFailed) as info:
        await core.call(inventory.link_variant_inventory, tid, variant["id"], item["id"], 0)
    assert info.value.field == "required_quantity"
    payload = {"inventory_item_id": str(item["id"]), "variant_id": str(variant["id"]),
               "product_id": str(product["id"])}
    assert await events_after(pool, mark) == [
        {"type": "VariantInventoryLinked", **payload},
        {"type": "VariantInventoryLinked", **payload},
        {"type": "VariantInventoryUnlinked", **payload}]


async def test_set_stock_level_upserts_and_reports_old_and_new(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    tid = shop["id"]
    item, location = await make_inventory_item(core, tid), await make_stock_location(core, tid)
    mark = await outbox_mark(pool)
    await core.call(inventory.set_stock_level, tid, item["id"], location["id"], 10, 4)
    await core.call(inventory.set_stock_level, tid, item["id"], location["id"], 10)  # no-op
    await core.call(inventory.set_stock_level, tid, str(item["id"]), str(location["id"]), 7)
    assert await level(pool, item, location) == (7, 0, 4)
    row = (await core.call(inventory.adjust_stock, tid, item["id"], location["id"], -2)).value
    assert row["stocked_quantity"] == 5
    with pytest.raises(Conflict) as info:
        await core.call(inventory.adjust_stock, tid, item["id"], location["id"], -6)
    assert info.value.field == "delta"
    await core.call(inventory.delete_stock_level, tid, item["id"], location["id"])
    assert await level(pool, item, location) is None
    with pytest.raises(NotFound):
        await core.call(inventory.delete_stock_level, tid, item["id"], location["id"])
    ids = {"inventory_item_id": str(item["id"]), "location_id": str(location["id"])}
    assert await events_after(pool, mark) == [
        {"type": "InventoryUpdated", **ids, "old_quantity": 0, "new_quantity": 10,
         "old_reserved": 0, "new_reserved": 0},
        {"type": "InventoryUpdated", **ids, "old_quantity": 10, "new_quantity": 7,
         "old_reserved": 0, "new_reserved": 0},
        {"type": "InventoryUpdated", **ids, "old_quantity": 7, "new_quantity": 5,
         "old_reserved": 0, "new_reserved": 0},
        {"type": "InventoryUpdated", **ids, "old_quantity": 5, "new_quantity": 0,
         "old_reserved": 0, "new_reserved": 0}]


async def test_adjust_stock_creates_a_missing_level(core: CoreWrite, pool: asyncpg.Pool,
                                                    shop: dict[str, Any]) -> None:
    tid = shop["id"]
    item, location = await make_inventory_item(core, tid), await make_stock_location(core, tid)
    with pytest.raises(Conflict):
        await core.call(inventory.adjust_stock, tid, item["id"], location["id"], -1)
    assert await level(pool, item, location) is None
    await core.call(inventory.adjust_stock, tid, item["id"], location["id"], 3)
    assert await level(pool, item, location) == (3, 0, 0)


async def test_concurrent_adjustments_all_count(core: CoreWrite, pool: asyncpg.Pool,
                                                shop: dict[str, Any]) -> None:
    tid = shop["id"]
    item, location = await make_inventory_item(core, tid), await make_stock_location(core, tid)
    await asyncio.gather(*(core.call(inventory.adjust_stock, tid, item["id"], location["id"], 1)
                           for _ in range(8)))
    assert await level(pool, item, location) == (8, 0, 0)
    events = [e for e in await events_after(pool, 0) if e["type"] == "InventoryUpdated"]
    assert sorted(e["new_quantity"] for e in events) == list(range(1, 9))


@pytest.mark.parametrize(("args", "field"), [
    ((-1,), "stocked_quantity"),
    ((2**31,), "stocked_quantity"),
    ((1, -1), "incoming_quantity"),
    (("many",), "stocked_quantity"),
])
async def test_bad_stock_level_input_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], args: tuple[Any, ...], field: str
) -> None:
    tid = shop["id"]
    item, location = await make_inventory_item(core, tid), await make_stock_location(core, tid)
    with pytest.raises(ValidationFailed) as info:
        await core.call(inventory.set_stock_level, tid, item["id"], location["id"], *args)
    assert info.value.field == field
    assert await level(pool, item, location) is None


async def test_tenant_cannot_touch_another_tenants_inventory(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    tid = shop["id"]
    intruder = await make_tenant(core)
    item, location = await make_inventory_item(core, tid), await make_stock_location(core, tid)
    await core.call(inventory.set_stock_level, tid, item["id"], location["id"], 5)
    product = await make_product(core, tid)
    variant = await make_variant(core, tid, product["id"])
    own_item = await make_inventory_item(core, intruder["id"])
    own_location = await make_stock_location(core, intruder["id"])
    own_product = await make_product(core, intruder["id"])
    own_variant = await make_variant(core, intruder["id"], own_product["id"])
    mark = await outbox_mark(pool)
    attempts: list[tuple[Any, tuple[Any, ...]]] = [
        (inventory.update_inventory_item, (item["id"], {"sku": "mine"})),
        (inventory.delete_inventory_item, (item["id"],)),
        (inventory.update_stock_location, (location["id"], {"name": "mine"})),
        (inventory.delete_stock_location, (location["id"],)),
        (inventory.set_stock_level, (item["id"], location["id"], 0)),
        (inventory.set_stock_level, (own_item["id"], location["id"], 0)),
        (inventory.set_stock_level, (item["id"], own_location["id"], 0)),
        (inventory.adjust_stock, (item["id"], location["id"], -5)),
        (inventory.delete_stock_level, (item["id"], location["id"])),
        (inventory.link_variant_inventory, (variant["id"], own_item["id"])),
        (inventory.link_variant_inventory, (own_variant["id"], item["id"])),
        (inventory.unlink_variant_inventory, (variant["id"], item["id"])),
    ]
    for service, args in attempts:
        with pytest.raises(TenantMismatch):
            await core.call(service, intruder["id"], *args)
    assert await level(pool, item, location) == (5, 0, 0)
    assert await pool.fetchval("SELECT count(*) FROM commerce_inventory_levels") == 1
    assert await pool.fetchval("SELECT count(*) FROM commerce_variant_inventory") == 0
    assert await events_after(pool, mark) == []


async def test_disabled_module_refuses_inventory_writes(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    tid = shop["id"]
    item, location = await make_inventory_item(core, tid), await make_stock_location(core, tid)
    await core.call(tenants.set_module, tid, "commerce", False)
    mark = await outbox_mark(pool)
    with pytest.raises(ModuleDisabled):
        await core.call(inventory.set_stock_level, tid, item["id"], location["id"], 5)
    with pytest.raises(ModuleDisabled):
        await make_stock_location(core, tid)
    assert await level(pool, item, location) is None
    assert await events_after(pool, mark) == []
