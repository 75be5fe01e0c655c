"""Orders: placing one (pricing its items and reserving stock), moving it through its statuses,
cancelling it (releasing what it reserved), completing it (turning reservations into stock
decrements) and deleting it (I/O: the unit's connection). Every write first checks the
tenant's commerce module.

What an order reserved is recorded per item in `metadata.reservations` as
`[{inventory_item_id, location_id, quantity}]`, so a release or completion undoes exactly that.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core_write import events as ev
from core_write.errors import Conflict, NotFound, TenantMismatch, ValidationFailed
from core_write.ids import new_id, parse_id
from core_write.queries import QUERIES
from core_write.rows import Table, delete, fetch_owned, insert, update
from core_write.services.catalog import MODULE
from core_write.services.inventory import Level, apply_levels, lock_levels
from core_write.unit import Unit, write_service
from core_write.validate import BIGINT_MAX, Currency, Id, IdLike, JsonObject, parse_input

ORDERS = Table("commerce_orders", "order")
USERS = Table("users", "user")

NEXT_STATUSES: dict[str, frozenset[str]] = {
    "pending": frozenset({"processing", "cancelled"}),
    "processing": frozenset({"shipped", "cancelled"}),
    "shipped": frozenset({"completed"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}


class OrderItemInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    variant_id: Id
    quantity: int = Field(ge=1, le=1_000_000)


class OrderPlace(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: Id | None = None
    email: str | None = Field(default=None, max_length=255, pattern=r"^[^@\s]+@[^@\s]+$")
    currency_code: Currency
    items: list[OrderItemInput] = Field(min_length=1, max_length=500)
    shipping_total: int = Field(default=0, ge=0, le=BIGINT_MAX)
    tax_total: int = Field(default=0, ge=0, le=BIGINT_MAX)
    discount_total: int = Field(default=0, ge=0, le=BIGINT_MAX)
    shipping_address: JsonObject | None = None
    billing_address: JsonObject | None = None
    metadata: JsonObject = Field(default_factory=dict)


class CancelInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=1000)


# ---- rows read by field ---------------------------------------------------------------------
@dataclass(frozen=True)
class OrderLine:
    """An ordered variant with its base price in the order's currency (`order_lines`)."""

    index: int
    variant_id: uuid.UUID
    product_id: uuid.UUID
    title: str
    sku: str | None
    manage_inventory: bool
    allow_backorder: bool
    product_title: str
    amount: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> OrderLine:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class VariantLink:
    """Units of an inventory item one unit of a variant needs."""

    variant_id: uuid.UUID
    inventory_item_id: uuid.UUID
    required_quantity: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> VariantLink:
        return cls(row["variant_id"], row["inventory_item_id"], row["required_quantity"])


# ---- pure: allocation and availability ----------------------------------------------------
@dataclass(frozen=True)
class Demand:
    """Units of one inventory item that order item `index` needs."""

    index: int
    inventory_item_id: uuid.UUID
    quantity: int
    backorder: bool


def allocate(demands: list[Demand], levels: list[Level]
             ) -> tuple[dict[uuid.UUID, int], dict[int, list[dict[str, Any]]]]:
    """Reserve each demand from its item's levels, most available (stocked - reserved) first.
    Returns the new reserved quantity per level id and, per order item, what was reserved
    where. A demand not covered is a `Conflict` on its item unless it may be backordered; then
    only what is available is reserved."""
    reserved = {level.id: level.reserved_quantity for level in levels}
    by_item: dict[uuid.UUID, list[Level]] = defaultdict(list)
    for level in levels:
        by_item[level.inventory_item_id].append(level)
    taken: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for demand in demands:
        need = demand.quantity
        candidates = sorted(by_item[demand.inventory_item_id], key=lambda level: (
            reserved[level.id] - level.stocked_quantity, level.location_id))
        for level in candidates:
            take = min(need, level.stocked_quantity - reserved[level.id])
            if take <= 0:
                break
            reserved[level.id] += take
            need -= take
            taken[demand.index].append({
                "inventory_item_id": str(demand.inventory_item_id),
                "location_id": str(level.location_id), "quantity": take})
        if need and not demand.backorder:
            raise Conflict("insufficient stock", field=f"items[{demand.index}].quantity")
    return reserved, taken


def available_units(links: list[VariantLink], levels: list[Level],
                    reserved: Mapping[uuid.UUID, int]) -> int:
    """How many units of a variant its linked items can still supply."""
    per_item: dict[uuid.UUID, int] = defaultdict(int)
    for level in levels:
        per_item[level.inventory_item_id] += max(
            level.stocked_quantity - reserved[level.id], 0)
    return min((per_item[link.inventory_item_id] // link.required_quantity
                for link in links), default=0)


def _item_field(error: ValidationFailed) -> ValidationFailed:
    """pydantic names item fields `items.0.quantity`; this service says `items[0].quantity`."""
    field = re.sub(r"^items\.(\d+)", r"items[\1]", error.field)
    if field == error.field:
        return error
    return ValidationFailed(field, error.message.split(": ", 1)[-1])


async def _lines(unit: Unit, tenant_id: uuid.UUID, spec: OrderPlace) -> list[OrderLine]:
    """Each item's variant and unit price (the base price: no price list, min quantity 1)."""
    seen: set[uuid.UUID] = set()
    for index, item in enumerate(spec.items):
        if item.variant_id in seen:
            raise ValidationFailed(f"items[{index}].variant_id",
                                   "variant listed twice; give one item with the total quantity")
        seen.add(item.variant_id)
    rows = await unit.conn.fetch(QUERIES["order_lines"], [item.variant_id for item in spec.items],
                                 spec.currency_code)
    for row in rows:
        if row["tenant_id"] is None:
            raise NotFound("variant", row["variant_id"])
        if row["tenant_id"] != tenant_id:
            raise TenantMismatch("variant", row["variant_id"])
        if row["amount"] is None:
            raise ValidationFailed(f"items[{row['index']}].variant_id",
                                   f"variant has no {spec.currency_code} price")
    return [OrderLine.from_row(row) for row in rows]


@write_service(MODULE)
async def place_order(unit: Unit, tenant_id: uuid.UUID,
                      data: OrderPlace | Mapping[str, Any]) -> dict[str, Any]:
    """Price the items, reserve their stock and write the order; the result lists its
    `items`. Not enough stock for an item that may not be backordered is a `Conflict` naming
    it, and nothing is written."""
    try:
        spec = parse_input(OrderPlace, data)
    except ValidationFailed as exc:
        raise _item_field(exc) from None
    if spec.customer_id is not None:
        await fetch_owned(unit.conn, USERS, tenant_id, spec.customer_id)
    lines = await _lines(unit, tenant_id, spec)
    quantities = [item.quantity for item in spec.items]
    subtotal = sum(line.amount * qty for line, qty in zip(lines, quantities, strict=True))
    total = subtotal + spec.shipping_total + spec.tax_total - spec.discount_total
    if total < 0:
        raise ValidationFailed("discount_total", "exceeds subtotal + shipping + tax")

    managed = {line.variant_id: line for line in lines if line.manage_inventory}
    links: dict[uuid.UUID, list[VariantLink]] = defaultdict(list)
    for row in await unit.conn.fetch(
            QUERIES["variant_inventory_links"], tenant_id, list(managed)):
        links[row["variant_id"]].append(VariantLink.from_row(row))
    levels = await lock_levels(unit, tenant_id, (link.inventory_item_id
                                                 for group in links.values() for link in group))
    demands = [Demand(line.index, link.inventory_item_id,
                      quantities[line.index] * link.required_quantity,
                      line.allow_backorder)
               for line in managed.values() for link in links[line.variant_id]]
    reserved, taken = allocate(demands, levels)

    order = await insert(unit.conn, ORDERS, {
        "id": new_id(), "tenant_id": tenant_id, "currency_code": spec.currency_code,
        "subtotal": subtotal, "total": total,
        **spec.model_dump(exclude={"items", "currency_code"}),
    })
    item_ids = [new_id() for _ in lines]
    items = await unit.conn.fetch(
        QUERIES["order_items_insert"], tenant_id, order["id"], order["created_at"], item_ids,
        [line.variant_id for line in lines],
        [f"{line.product_title} / {line.title}"[:255] for line in lines],
        [line.sku for line in lines], quantities, [line.amount for line in lines],
        [line.amount * qty for line, qty in zip(lines, quantities, strict=True)],
        [{"position": i, "reservations": taken.get(i, [])} for i in range(len(lines))])
    unit.emit(tenant_id, ev.OrderPlaced(order_id=order["id"], customer_id=spec.customer_id,
                                        total=total))
    await apply_levels(unit, tenant_id, levels,
                       {level.id: (level.stocked_quantity, reserved[level.id])
                        for level in levels})
    await _warn_low(unit, tenant_id, managed, links, levels, reserved)
    position = {item_id: i for i, item_id in enumerate(item_ids)}
    return {**order, "items": sorted((dict(item) for item in items),
                                     key=lambda item: position[item["id"]])}


async def _warn_low(unit: Unit, tenant_id: uuid.UUID, managed: Mapping[uuid.UUID, OrderLine],
                    links: Mapping[uuid.UUID, list[VariantLink]],
                    levels: list[Level], reserved: Mapping[uuid.UUID, int]) -> None:
    """`InventoryLow` for each ordered variant whose availability this order lowered to or
    below the tenant's threshold."""
    threshold = await unit.conn.fetchval(
        QUERIES["low_stock_threshold"],
        tenant_id)
    before = {level.id: level.reserved_quantity for level in levels}
    for variant_id, line in managed.items():
        variant_links = links[variant_id]
        if not variant_links:
            continue
        items = {link.inventory_item_id for link in variant_links}
        own = [level for level in levels if level.inventory_item_id in items]
        remaining = available_units(variant_links, own, reserved)
        if remaining <= threshold and remaining < available_units(variant_links, own, before):
            unit.emit(tenant_id, ev.InventoryLow(variant_id=variant_id,
                                                 product_id=line.product_id,
                                                 remaining=remaining, threshold=threshold))


# ---- status changes ------------------------------------------------------------------------
async def _settle(unit: Unit, tenant_id: uuid.UUID, order: dict[str, Any], *,
                  consume: bool) -> None:
    """Undo the order's reservations: released (cancel) or taken out of stock (complete)."""
    rows = await unit.conn.fetch(
        QUERIES["order_reservations"], order["id"], order["created_at"], tenant_id)
    held = {(row["inventory_item_id"], row["location_id"]): row["quantity"] for row in rows}
    if not held:
        return
    levels = await lock_levels(unit, tenant_id, (item for item, _ in held))
    new: dict[uuid.UUID, tuple[int, int]] = {}
    for level in levels:
        quantity = held.get((level.inventory_item_id, level.location_id))
        if quantity is None:
            continue
        stocked = level.stocked_quantity - (quantity if consume else 0)
        # A level edited by hand since may hold less than the order reserved: never go below 0.
        new[level.id] = (max(stocked, 0), max(level.reserved_quantity - quantity, 0))
    await apply_levels(unit, tenant_id, levels, new)


async def _lock_order(unit: Unit, tenant_id: uuid.UUID, order_id: IdLike) -> dict[str, Any]:
    return await fetch_owned(unit.conn, ORDERS, tenant_id, parse_id(order_id, "order_id"),
                             lock=True)


@write_service(MODULE)
async def update_order_status(unit: Unit, tenant_id: uuid.UUID, order_id: IdLike,
                              status: str) -> dict[str, Any]:
    """pending → processing → shipped → completed, or cancelled from pending/processing.
    Completing turns the reservations into stock decrements."""
    if status not in NEXT_STATUSES:
        raise ValidationFailed("status", f"must be one of {', '.join(NEXT_STATUSES)}")
    if status == "cancelled":
        return await cancel_order(unit, tenant_id, order_id)
    order = await _lock_order(unit, tenant_id, order_id)
    old = order["status"]
    if old == status:
        return order
    if status not in NEXT_STATUSES[old]:
        raise Conflict(f"an order cannot go from {old} to {status}", field="status")
    row = await update(unit.conn, ORDERS, tenant_id, order["id"], {"status": status})
    unit.emit(tenant_id, ev.OrderStatusChanged(order_id=order["id"], old_status=old,
                                               new_status=status))
    if status == "completed":
        unit.emit(tenant_id, ev.OrderCompleted(order_id=order["id"]))
        await _settle(unit, tenant_id, order, consume=True)
    return row


@write_service(MODULE)
async def cancel_order(unit: Unit, tenant_id: uuid.UUID, order_id: IdLike,
                       reason: str | None = None) -> dict[str, Any]:
    """Cancel a pending or processing order and release exactly what it reserved; the reason
    is kept in `metadata.cancel_reason`. Cancelling a cancelled order is a no-op."""
    spec = parse_input(CancelInput, None, reason=reason)
    order = await _lock_order(unit, tenant_id, order_id)
    old = order["status"]
    if old == "cancelled":
        return order
    if "cancelled" not in NEXT_STATUSES[old]:
        raise Conflict(f"a {old} order cannot be cancelled", field="status")
    changes: dict[str, Any] = {"status": "cancelled"}
    if spec.reason is not None:
        changes["metadata"] = {**order["metadata"], "cancel_reason": spec.reason}
    row = await update(unit.conn, ORDERS, tenant_id, order["id"], changes)
    unit.emit(tenant_id, ev.OrderStatusChanged(order_id=order["id"], old_status=old,
                                               new_status="cancelled"))
    unit.emit(tenant_id, ev.OrderCancelled(order_id=order["id"], reason=spec.reason))
    await _settle(unit, tenant_id, order, consume=False)
    return row


@write_service(MODULE)
async def delete_order(unit: Unit, tenant_id: uuid.UUID, order_id: IdLike) -> dict[str, Any]:
    """Delete a cancelled or completed order with its items (others still hold stock)."""
    order = await _lock_order(unit, tenant_id, order_id)
    if order["status"] not in ("cancelled", "completed"):
        raise Conflict(f"a {order['status']} order cannot be deleted", field="status")
    row = await delete(unit.conn, ORDERS, tenant_id, order["id"])
    unit.emit(tenant_id, ev.OrderDeleted(order_id=order["id"]))
    return row


@write_service()
async def get_order(unit: Unit, tenant_id: uuid.UUID, order_id: IdLike) -> dict[str, Any]:
    """An order of the tenant with its `items` in the order they were placed (read only)."""
    order = await fetch_owned(unit.conn, ORDERS, tenant_id, parse_id(order_id, "order_id"))
    items = await unit.conn.fetch(
        QUERIES["order_items"], order["id"], order["created_at"], tenant_id)
    return {**order, "items": [dict(item) for item in items]}
