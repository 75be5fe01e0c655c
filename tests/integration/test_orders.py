from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from core_write.errors import (
    Conflict,
    ModuleDisabled,
    NotFound,
    RustokError,
    TenantMismatch,
    ValidationFailed,
)
from core_write.ids import new_id
from core_write.partitions import ensure_order_partitions
from core_write.services import catalog, inventory, orders, tenants
from core_write.unit import CoreWrite
from tests.builders import (
    events_after,
    make_stock_location,
    make_stocked_variant,
    make_tenant,
    make_variant,
    outbox_mark,
)


@pytest.fixture
async def shop(core: CoreWrite) -> dict[str, Any]:
    return await make_tenant(core)


@pytest.fixture
async def depots(core: CoreWrite, shop: dict[str, Any]) -> list[dict[str, Any]]:
    return [await make_stock_location(core, shop["id"], name=name) for name in ("A", "B")]


async def levels(pool: asyncpg.Pool, item_id: uuid.UUID) -> dict[str, tuple[int, int]]:
    """{location name: (stocked, reserved)} of an inventory item."""
    rows = await pool.fetch(
        """SELECT s.name, l.stocked_quantity, l.reserved_quantity
           FROM commerce_inventory_levels l JOIN commerce_stock_locations s ON s.id = l.location_id
           WHERE l.inventory_item_id = $1""", item_id)
    return {row["name"]: (row["stocked_quantity"], row["reserved_quantity"]) for row in rows}


async def place(core: CoreWrite, tenant_id: uuid.UUID, *items: tuple[Any, int],
                **extra: Any) -> dict[str, Any]:
    data = {"currency_code": "USD", **extra,
            "items": [{"variant_id": v["id"] if isinstance(v, dict) else v, "quantity": q}
                      for v, q in items]}
    return (await core.call(orders.place_order, tenant_id, data)).value


async def test_place_order_prices_items_and_reserves_most_available_first(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], depots: list[dict[str, Any]]
) -> None:
    a, b = depots
    tid = shop["id"]
    shirt = await make_stocked_variant(core, tid, price=2500, stock={a["id"]: 5, b["id"]: 20})
    mug = await make_stocked_variant(core, tid, price=800, stock={a["id"]: 30})
    mark = await outbox_mark(pool)
    order = await place(core, tid, (shirt, 18), (mug, 2), shipping_total=500, tax_total=100,
                        discount_total=300, email="buyer@example.com")
    assert (order["subtotal"], order["total"]) == (18 * 2500 + 2 * 800, 46600 + 500 + 100 - 300)
    assert order["status"] == "pending" and order["currency_code"] == "USD"
    items = order["items"]
    assert [(i["variant_id"], i["quantity"], i["unit_price"], i["total"]) for i in items] == [
        (shirt["id"], 18, 2500, 45000), (mug["id"], 2, 800, 1600)]
    assert all(i["order_created_at"] == order["created_at"] for i in items)
    assert items[0]["sku"] == shirt["sku"] and items[0]["title"].endswith(shirt["title"])
    # 18 shirts: 18 from B (20 available) before A (5); nothing taken from A.
    assert await levels(pool, shirt["inventory_item_id"]) == {"A": (5, 0), "B": (20, 18)}
    assert await levels(pool, mug["inventory_item_id"]) == {"A": (30, 2)}
    assert items[0]["metadata"]["reservations"] == [
        {"inventory_item_id": str(shirt["inventory_item_id"]), "location_id": str(b["id"]),
         "quantity": 18}]
    stored = await core.call(orders.get_order, tid, order["id"])
    assert [i["id"] for i in stored.value["items"]] == [i["id"] for i in items]
    events = await events_after(pool, mark)
    assert events[0] == {"type": "OrderPlaced", "order_id": str(order["id"]),
                         "customer_id": None, "total": 46900}
    updates = {(e["inventory_item_id"], e["location_id"]): e for e in events[1:3]}
    assert updates[(str(shirt["inventory_item_id"]), str(b["id"]))] == {
        "type": "InventoryUpdated", "inventory_item_id": str(shirt["inventory_item_id"]),
        "location_id": str(b["id"]), "old_quantity": 20, "new_quantity": 20,
        "old_reserved": 0, "new_reserved": 18}
    # Shirts left: 5 + 2 = 7 > 5, mugs 28: no InventoryLow.
    assert [e["type"] for e in events] == ["OrderPlaced", "InventoryUpdated", "InventoryUpdated"]


async def test_reservation_splits_across_locations_and_multiplies_required_quantity(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], depots: list[dict[str, Any]]
) -> None:
    a, b = depots
    pair = await make_stocked_variant(core, shop["id"], stock={a["id"]: 9, b["id"]: 8},
                                      required_quantity=2)
    order = await place(core, shop["id"], (pair, 7))  # 14 units: 9 from A, then 5 from B
    assert await levels(pool, pair["inventory_item_id"]) == {"A": (9, 9), "B": (8, 5)}
    assert [r["quantity"] for r in order["items"][0]["metadata"]["reservations"]] == [9, 5]


async def test_variants_sharing_an_item_draw_from_the_same_stock(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], depots: list[dict[str, Any]]
) -> None:
    a, _ = depots
    tid = shop["id"]
    single = await make_stocked_variant(core, tid, stock={a["id"]: 10})
    other = await make_variant(core, tid, single["product_id"])
    await core.call(catalog.set_price, tid, other["id"], "USD", 300)
    await core.call(inventory.link_variant_inventory, tid, other["id"],
                    single["inventory_item_id"], 3)
    mark = await outbox_mark(pool)
    with pytest.raises(Conflict) as info:
        await place(core, tid, (single, 5), (other, 2))  # 5 + 6 > 10
    assert info.value.field == "items[1].quantity"
    assert await events_after(pool, mark) == []
    await place(core, tid, (single, 4), (other, 2))
    assert await levels(pool, single["inventory_item_id"]) == {"A": (10, 10)}


async def test_insufficient_stock_rolls_back_everything(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], depots: list[dict[str, Any]]
) -> None:
    a, b = depots
    plenty = await make_stocked_variant(core, shop["id"], stock={a["id"]: 50})
    scarce = await make_stocked_variant(core, shop["id"], stock={a["id"]: 2, b["id"]: 1})
    mark = await outbox_mark(pool)
    with pytest.raises(Conflict) as info:
        await place(core, shop["id"], (plenty, 5), (scarce, 4))
    assert info.value.message == "insufficient stock" and info.value.field == "items[1].quantity"
    assert await pool.fetchval("SELECT count(*) FROM commerce_orders") == 0
    assert await pool.fetchval("SELECT count(*) FROM commerce_order_items") == 0
    assert await levels(pool, plenty["inventory_item_id"]) == {"A": (50, 0)}
    assert await levels(pool, scarce["inventory_item_id"]) == {"A": (2, 0), "B": (1, 0)}
    assert await events_after(pool, mark) == []


async def test_backorder_reserves_what_there_is_and_warns_low(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], depots: list[dict[str, Any]]
) -> None:
    a, _ = depots
    variant = await make_stocked_variant(core, shop["id"], stock={a["id"]: 2},
                                         allow_backorder=True)
    mark = await outbox_mark(pool)
    order = await place(core, shop["id"], (variant, 5))
    assert order["items"][0]["quantity"] == 5
    assert await levels(pool, variant["inventory_item_id"]) == {"A": (2, 2)}
    events = await events_after(pool, mark)
    assert [e["type"] for e in events] == ["OrderPlaced", "InventoryUpdated", "InventoryLow"]
    assert events[-1] == {"type": "InventoryLow", "variant_id": str(variant["id"]),
                          "product_id": str(variant["product_id"]), "remaining": 0,
                          "threshold": 5}


async def test_unmanaged_variants_reserve_nothing(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], depots: list[dict[str, Any]]
) -> None:
    a, _ = depots
    digital = await make_stocked_variant(core, shop["id"], stock={a["id"]: 1},
                                         manage_inventory=False)
    await place(core, shop["id"], (digital, 100))
    assert await levels(pool, digital["inventory_item_id"]) == {"A": (1, 0)}


async def test_inventory_low_uses_the_tenant_threshold_when_crossed(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    shop = await make_tenant(core, settings={"low_stock_threshold": 2})
    depot = await make_stock_location(core, shop["id"])
    variant = await make_stocked_variant(core, shop["id"], stock={depot["id"]: 10})
    mark = await outbox_mark(pool)
    await place(core, shop["id"], (variant, 7))  # 3 left
    assert "InventoryLow" not in [e["type"] for e in await events_after(pool, mark)]
    mark = await outbox_mark(pool)
    await place(core, shop["id"], (variant, 1))  # 2 left
    low = [e for e in await events_after(pool, mark) if e["type"] == "InventoryLow"]
    assert low == [{"type": "InventoryLow", "variant_id": str(variant["id"]),
                    "product_id": str(variant["product_id"]), "remaining": 2, "threshold": 2}]


async def test_cancel_releases_exactly_what_the_order_reserved(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], depots: list[dict[str, Any]]
) -> None:
    a, b = depots
    tid = shop["id"]
    variant = await make_stocked_variant(core, tid, stock={a["id"]: 6, b["id"]: 6})
    keep = await place(core, tid, (variant, 4))  # 4 from A (tie → lower location id first)
    drop = await place(core, tid, (variant, 5))  # 5 from B (now the most available)
    held = await levels(pool, variant["inventory_item_id"])
    assert sorted(held.values()) == [(6, 4), (6, 5)]
    mark = await outbox_mark(pool)
    row = (await core.call(orders.cancel_order, tid, drop["id"], "changed mind")).value
    assert row["status"] == "cancelled" and row["metadata"]["cancel_reason"] == "changed mind"
    after = await levels(pool, variant["inventory_item_id"])
    assert sorted(after.values()) == [(6, 0), (6, 4)]
    await core.call(orders.cancel_order, tid, drop["id"])  # no-op
    events = await events_after(pool, mark)
    assert [e["type"] for e in events] == [
        "OrderStatusChanged", "OrderCancelled", "InventoryUpdated"]
    assert events[1] == {"type": "OrderCancelled", "order_id": str(drop["id"]),
                         "reason": "changed mind"}
    assert (events[2]["old_reserved"], events[2]["new_reserved"]) == (5, 0)
    await core.call(orders.update_order_status, tid, keep["id"], "processing")
    await core.call(orders.update_order_status, tid, keep["id"], "cancelled")
    assert await levels(pool, variant["inventory_item_id"]) == {"A": (6, 0), "B": (6, 0)}


async def test_complete_turns_reservations_into_stock_decrements(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], depots: list[dict[str, Any]]
) -> None:
    a, b = depots
    tid = shop["id"]
    variant = await make_stocked_variant(core, tid, stock={a["id"]: 3, b["id"]: 10})
    order = await place(core, tid, (variant, 12))
    other = await place(core, tid, (variant, 1))
    mark = await outbox_mark(pool)
    for status in ("processing", "shipped"):
        await core.call(orders.update_order_status, tid, order["id"], status)
    await core.call(orders.update_order_status, tid, order["id"], "shipped")  # no-op
    done = (await core.call(orders.update_order_status, tid, str(order["id"]),
                            "completed")).value
    assert done["status"] == "completed"
    # order took 10 from B and 2 from A; `other` still holds 1 in A.
    assert await levels(pool, variant["inventory_item_id"]) == {"A": (1, 1), "B": (0, 0)}
    events = await events_after(pool, mark)
    assert [e["type"] for e in events] == [
        "OrderStatusChanged", "OrderStatusChanged", "OrderStatusChanged", "OrderCompleted",
        "InventoryUpdated", "InventoryUpdated"]
    assert [(e["old_status"], e["new_status"]) for e in events[:3]] == [
        ("pending", "processing"), ("processing", "shipped"), ("shipped", "completed")]
    moves = sorted((e["old_quantity"], e["new_quantity"], e["old_reserved"], e["new_reserved"])
                   for e in events[4:])
    assert moves == [(3, 1, 3, 1), (10, 0, 10, 0)]
    with pytest.raises(Conflict) as info:
        await core.call(orders.cancel_order, tid, order["id"])
    assert info.value.field == "status"
    assert (await core.call(orders.get_order, tid, other["id"])).value["status"] == "pending"


@pytest.mark.parametrize(("path", "status", "error", "field"), [
    ([], "shipped", Conflict, "status"),
    ([], "completed", Conflict, "status"),
    (["processing", "shipped"], "cancelled", Conflict, "status"),
    (["cancelled"], "processing", Conflict, "status"),
    ([], "lost", ValidationFailed, "status"),
])
async def test_invalid_status_changes_are_refused(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], depots: list[dict[str, Any]],
    path: list[str], status: str, error: type[RustokError], field: str
) -> None:
    variant = await make_stocked_variant(core, shop["id"], stock={depots[0]["id"]: 5})
    order = await place(core, shop["id"], (variant, 1))
    for step in path:
        await core.call(orders.update_order_status, shop["id"], order["id"], step)
    before = await pool.fetchrow("SELECT status, updated_at FROM commerce_orders")
    mark = await outbox_mark(pool)
    with pytest.raises(error) as info:
        await core.call(orders.update_order_status, shop["id"], order["id"], status)
    assert info.value.context["field"] == field
    assert await pool.fetchrow("SELECT status, updated_at FROM commerce_orders") == before
    assert await events_after(pool, mark) == []


async def test_delete_only_finished_orders(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], depots: list[dict[str, Any]]
) -> None:
    variant = await make_stocked_variant(core, shop["id"], stock={depots[0]["id"]: 5})
    order = await place(core, shop["id"], (variant, 1))
    with pytest.raises(Conflict) as info:
        await core.call(orders.delete_order, shop["id"], order["id"])
    assert info.value.field == "status"
    await core.call(orders.cancel_order, shop["id"], order["id"])
    mark = await outbox_mark(pool)
    await core.call(orders.delete_order, shop["id"], order["id"])
    assert await pool.fetchval("SELECT count(*) FROM commerce_orders") == 0
    assert await pool.fetchval("SELECT count(*) FROM commerce_order_items") == 0
    assert await events_after(pool, mark) == [{"type": "OrderDeleted",
                                               "order_id": str(order["id"])}]
    with pytest.raises(NotFound):
        await core.call(orders.get_order, shop["id"], order["id"])


@pytest.mark.parametrize(("change", "field"), [
    ({"currency_code": "usd"}, "currency_code"),
    ({"currency_code": "EUR"}, "items[0].variant_id"),  # no EUR price
    ({"items": []}, "items"),
    ({"items": [{"variant_id": "zzz", "quantity": 1}]}, "items[0].variant_id"),
    ({"items": "KEEP", "extra_item_quantity": 0}, "items[1].quantity"),
    ({"items": "KEEP", "extra_item_variant": "DUP"}, "items[1].variant_id"),
    ({"discount_total": 10**6}, "discount_total"),
    ({"shipping_total": -1}, "shipping_total"),
    ({"email": "not an email"}, "email"),
    ({"customer_id": "nope"}, "customer_id"),
    ({"coupon": "FREE"}, "coupon"),
])
async def test_bad_order_input_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], depots: list[dict[str, Any]],
    change: dict[str, Any], field: str
) -> None:
    variant = await make_stocked_variant(core, shop["id"], stock={depots[0]["id"]: 5})
    data: dict[str, Any] = {"currency_code": "USD",
                            "items": [{"variant_id": str(variant["id"]), "quantity": 1}]}
    if change.get("items") == "KEEP":
        extra = {"variant_id": str(variant["id"]) if change.get("extra_item_variant") == "DUP"
                 else str(new_id()), "quantity": change.get("extra_item_quantity", 1)}
        data["items"].append(extra)
    else:
        data.update(change)
    mark = await outbox_mark(pool)
    with pytest.raises(ValidationFailed) as info:
        await core.call(orders.place_order, shop["id"], data)
    assert info.value.field == field
    assert await pool.fetchval("SELECT count(*) FROM commerce_orders") == 0
    assert await levels(pool, variant["inventory_item_id"]) == {"A": (5, 0)}
    assert await events_after(pool, mark) == []


async def test_unknown_variant_is_not_found(core: CoreWrite, shop: dict[str, Any]) -> None:
    with pytest.raises(NotFound):
        await place(core, shop["id"], (new_id(), 1))


async def test_tenant_cannot_order_or_touch_another_tenants_orders(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], depots: list[dict[str, Any]]
) -> None:
    intruder = await make_tenant(core)
    variant = await make_stocked_variant(core, shop["id"], stock={depots[0]["id"]: 5})
    order = await place(core, shop["id"], (variant, 2))
    customer = new_id()
    await pool.execute("INSERT INTO users (id, tenant_id, email, password_hash) "
                       "VALUES ($1, $2, 'c@example.com', 'x')", customer, shop["id"])
    own = await make_stocked_variant(core, intruder["id"])
    mark = await outbox_mark(pool)
    with pytest.raises(TenantMismatch):
        await place(core, intruder["id"], (variant, 1))
    with pytest.raises(TenantMismatch):
        await place(core, intruder["id"], (own, 1), customer_id=str(customer))
    attempts: list[tuple[Any, tuple[Any, ...]]] = [
        (orders.update_order_status, ("processing",)), (orders.cancel_order, ()),
        (orders.delete_order, ()), (orders.get_order, ())]
    for service, args in attempts:
        with pytest.raises(TenantMismatch):
            await core.call(service, intruder["id"], order["id"], *args)
    assert await pool.fetchval("SELECT count(*) FROM commerce_orders") == 1
    assert await pool.fetchval("SELECT status FROM commerce_orders") == "pending"
    assert await levels(pool, variant["inventory_item_id"]) == {"A": (5, 2)}
    assert await events_after(pool, mark) == []
    # order numbers count per tenant: the intruder's first order is its number 1
    assert order["display_id"] == 1
    stocked = await make_stocked_variant(core, intruder["id"],
                                         stock={(await make_stock_location(
                                             core, intruder["id"]))["id"]: 3})
    assert (await place(core, intruder["id"], (stocked, 1)))["display_id"] == 1
    assert (await place(core, shop["id"], (variant, 1)))["display_id"] == 2


async def test_customer_of_the_tenant_is_recorded(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    customer = new_id()
    await pool.execute("INSERT INTO users (id, tenant_id, email, password_hash) "
                       "VALUES ($1, $2, 'c@example.com', 'x')", customer, shop["id"])
    variant = await make_stocked_variant(core, shop["id"], manage_inventory=False)
    mark = await outbox_mark(pool)
    order = await place(core, shop["id"], (variant, 1), customer_id=customer)
    assert order["customer_id"] == customer
    assert (await events_after(pool, mark))[0]["customer_id"] == str(customer)


async def test_disabled_module_refuses_orders(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], depots: list[dict[str, Any]]
) -> None:
    variant = await make_stocked_variant(core, shop["id"], stock={depots[0]["id"]: 5})
    order = await place(core, shop["id"], (variant, 1))
    await core.call(tenants.set_module, shop["id"], "commerce", False)
    mark = await outbox_mark(pool)
    with pytest.raises(ModuleDisabled):
        await place(core, shop["id"], (variant, 1))
    with pytest.raises(ModuleDisabled):
        await core.call(orders.cancel_order, shop["id"], order["id"])
    assert await pool.fetchval("SELECT count(*) FROM commerce_orders") == 1
    assert await events_after(pool, mark) == []


async def test_concurrent_orders_never_oversell_nor_deadlock(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], depots: list[dict[str, Any]]
) -> None:
    a, b = depots
    tid = shop["id"]
    left = await make_stocked_variant(core, tid, stock={a["id"]: 3, b["id"]: 2})
    right = await make_stocked_variant(core, tid, stock={a["id"]: 2, b["id"]: 3})
    # Opposite item orders in alternate calls: a lock order that followed the items would
    # deadlock here.
    attempts = [[(left, 1), (right, 1)] if i % 2 else [(right, 1), (left, 1)] for i in range(8)]
    results = await asyncio.wait_for(asyncio.gather(
        *(place(core, tid, *items) for items in attempts), return_exceptions=True), 30)
    placed = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(placed) == 5 and len(refused) == 3, results
    for variant in (left, right):
        assert sum(r for _, r in (await levels(pool, variant["inventory_item_id"])).values()) == 5
    assert await pool.fetchval("SELECT count(*) FROM commerce_orders") == 5
    # refused orders rolled their number back: the tenant's numbers have no gaps
    assert sorted(order["display_id"] for order in placed) == [1, 2, 3, 4, 5]


async def test_order_in_a_quarter_partition_keeps_its_items(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], depots: list[dict[str, Any]]
) -> None:
    async with pool.acquire() as conn:
        await ensure_order_partitions(conn, ahead=1)
    variant = await make_stocked_variant(core, shop["id"], stock={depots[0]["id"]: 5})
    order = await place(core, shop["id"], (variant, 2))
    table = await pool.fetchval("SELECT tableoid::regclass::text FROM commerce_orders "
                                "WHERE id = $1", order["id"])
    assert table.startswith("commerce_orders_20")
    await core.call(orders.cancel_order, shop["id"], order["id"])
    assert await levels(pool, variant["inventory_item_id"]) == {"A": (5, 0)}


async def test_price_of_another_currency_or_list_is_not_used(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    variant = await make_stocked_variant(core, shop["id"], price=1000, manage_inventory=False)
    await core.call(catalog.set_price, shop["id"], variant["id"], "EUR", 900)
    # core_write refuses price lists until they exist; another writer may still put one there
    await pool.execute(
        "INSERT INTO commerce_prices (id, tenant_id, variant_id, currency_code, amount, "
        "price_list_id) VALUES ($1, $2, $3, 'USD', 1, $4)",
        new_id(), shop["id"], variant["id"], new_id())
    await core.call(catalog.set_price, shop["id"], variant["id"], "USD", 2, None, 5)
    order = await place(core, shop["id"], (variant, 5))
    assert order["items"][0]["unit_price"] == 1000 and order["subtotal"] == 5000
