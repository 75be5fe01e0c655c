"""Inventory writes: inventory items, stock locations, variant ↔ item links and stock levels,
plus the locked, set-based level updates that orders use to reserve and release stock
(I/O: the unit's connection). Every write first checks the tenant's commerce module."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core_write import events as ev
from core_write.errors import Conflict, NotFound
from core_write.ids import new_id, parse_id
from core_write.queries import QUERIES
from core_write.rows import (
    Table,
    delete,
    fetch_owned,
    insert,
    update_if_changed,
)
from core_write.services.catalog import MODULE, VARIANTS
from core_write.unit import Unit, write_service
from core_write.validate import INT_MAX, IdLike, JsonObject, Text, given, parse_input

ITEMS = Table("commerce_inventory_items", "inventory item", touch=False)
LOCATIONS = Table("commerce_stock_locations", "stock location", touch=False)


class InventoryItemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str | None = Field(default=None, min_length=1, max_length=64)
    requires_shipping: bool | None = None
    metadata: JsonObject | None = None


class InventoryItemCreate(InventoryItemUpdate):
    requires_shipping: bool = True
    metadata: JsonObject = Field(default_factory=dict)


class StockLocationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text | None = None
    address: JsonObject | None = None
    metadata: JsonObject | None = None


class StockLocationCreate(StockLocationUpdate):
    name: Text
    metadata: JsonObject = Field(default_factory=dict)


class StockLevelSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stocked_quantity: int = Field(ge=0, le=INT_MAX)
    incoming_quantity: int | None = Field(default=None, ge=0, le=INT_MAX)


class StockAdjust(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delta: int = Field(ge=-INT_MAX, le=INT_MAX)


class VariantLink(BaseModel):
    model_config = ConfigDict(extra="forbid")
    required_quantity: int = Field(default=1, ge=1, le=INT_MAX)


# ---- inventory items -----------------------------------------------------------------------
@write_service(MODULE)
async def create_inventory_item(unit: Unit, tenant_id: uuid.UUID,
                                data: InventoryItemCreate | Mapping[str, Any]) -> dict[str, Any]:
    spec = parse_input(InventoryItemCreate, data)
    row = await insert(unit.conn, ITEMS, {"id": new_id(), "tenant_id": tenant_id,
                                          **spec.model_dump()})
    unit.emit(tenant_id, ev.InventoryItemCreated(inventory_item_id=row["id"]))
    return row


@write_service(MODULE)
async def update_inventory_item(unit: Unit, tenant_id: uuid.UUID, inventory_item_id: IdLike,
                                data: InventoryItemUpdate | Mapping[str, Any]) -> dict[str, Any]:
    spec = parse_input(InventoryItemUpdate, data)
    iid = parse_id(inventory_item_id, "inventory_item_id")
    row, changes = await update_if_changed(unit.conn, ITEMS, tenant_id, iid,
                                           given(spec, frozenset({"sku"})))
    if changes:
        unit.emit(tenant_id, ev.InventoryItemUpdated(inventory_item_id=iid))
    return row


@write_service(MODULE)
async def delete_inventory_item(unit: Unit, tenant_id: uuid.UUID,
                                inventory_item_id: IdLike) -> dict[str, Any]:
    """Delete an item with its levels and links; the event names the variants it stocked."""
    iid = parse_id(inventory_item_id, "inventory_item_id")
    await fetch_owned(unit.conn, ITEMS, tenant_id, iid)
    variants = await unit.conn.fetch(
        QUERIES["inventory_item_variants"], iid)
    row = await delete(unit.conn, ITEMS, tenant_id, iid)
    unit.emit(tenant_id, ev.InventoryItemDeleted(
        inventory_item_id=iid, variant_ids=[v["variant_id"] for v in variants]))
    return row


# ---- stock locations -----------------------------------------------------------------------
@write_service(MODULE)
async def create_stock_location(unit: Unit, tenant_id: uuid.UUID,
                                data: StockLocationCreate | Mapping[str, Any]) -> dict[str, Any]:
    spec = parse_input(StockLocationCreate, data)
    row = await insert(unit.conn, LOCATIONS, {"id": new_id(), "tenant_id": tenant_id,
                                              **spec.model_dump()})
    unit.emit(tenant_id, ev.StockLocationCreated(location_id=row["id"]))
    return row


@write_service(MODULE)
async def update_stock_location(unit: Unit, tenant_id: uuid.UUID, location_id: IdLike,
                                data: StockLocationUpdate | Mapping[str, Any]) -> dict[str, Any]:
    spec = parse_input(StockLocationUpdate, data)
    lid = parse_id(location_id, "location_id")
    row, changes = await update_if_changed(unit.conn, LOCATIONS, tenant_id, lid,
                                           given(spec, frozenset({"address"})))
    if changes:
        unit.emit(tenant_id, ev.StockLocationUpdated(location_id=lid))
    return row


@write_service(MODULE)
async def delete_stock_location(unit: Unit, tenant_id: uuid.UUID,
                                location_id: IdLike) -> dict[str, Any]:
    """Delete a location with its levels; the event names the items that had stock there."""
    lid = parse_id(location_id, "location_id")
    await fetch_owned(unit.conn, LOCATIONS, tenant_id, lid)
    items = await unit.conn.fetch(
        QUERIES["location_inventory_items"], lid)
    row = await delete(unit.conn, LOCATIONS, tenant_id, lid)
    unit.emit(tenant_id, ev.StockLocationDeleted(
        location_id=lid, inventory_item_ids=[i["inventory_item_id"] for i in items]))
    return row


# ---- variant links -------------------------------------------------------------------------
@write_service(MODULE)
async def link_variant_inventory(unit: Unit, tenant_id: uuid.UUID, variant_id: IdLike,
                                 inventory_item_id: IdLike,
                                 required_quantity: int = 1) -> dict[str, Any]:
    """Stock a variant from an item (`required_quantity` units per variant sold); linking
    again with the same quantity is a no-op, with another quantity an update."""
    spec = parse_input(VariantLink, None, required_quantity=required_quantity)
    vid = parse_id(variant_id, "variant_id")
    iid = parse_id(inventory_item_id, "inventory_item_id")
    variant = await fetch_owned(unit.conn, VARIANTS, tenant_id, vid)
    await fetch_owned(unit.conn, ITEMS, tenant_id, iid)
    row = await unit.conn.fetchrow(
        QUERIES["variant_inventory_link"], tenant_id, vid, iid, spec.required_quantity)
    if row is None:
        return {"tenant_id": tenant_id, "variant_id": vid, "inventory_item_id": iid,
                "required_quantity": spec.required_quantity}
    unit.emit(tenant_id, ev.VariantInventoryLinked(
        inventory_item_id=iid, variant_id=vid, product_id=variant["product_id"]))
    return dict(row)


@write_service(MODULE)
async def unlink_variant_inventory(unit: Unit, tenant_id: uuid.UUID, variant_id: IdLike,
                                   inventory_item_id: IdLike) -> dict[str, Any]:
    """Remove a variant ↔ item link; unlinking what is not linked is a no-op."""
    vid = parse_id(variant_id, "variant_id")
    iid = parse_id(inventory_item_id, "inventory_item_id")
    variant = await fetch_owned(unit.conn, VARIANTS, tenant_id, vid)
    await fetch_owned(unit.conn, ITEMS, tenant_id, iid)
    row = await unit.conn.fetchrow(
        QUERIES["variant_inventory_unlink"],
        tenant_id, vid, iid)
    if row is None:
        return {"tenant_id": tenant_id, "variant_id": vid, "inventory_item_id": iid}
    unit.emit(tenant_id, ev.VariantInventoryUnlinked(
        inventory_item_id=iid, variant_id=vid, product_id=variant["product_id"]))
    return dict(row)


# ---- stock levels --------------------------------------------------------------------------
async def _lock_level(unit: Unit, tenant_id: uuid.UUID, inventory_item_id: IdLike,
                      location_id: IdLike, *, create: bool) -> tuple[dict[str, Any] | None, bool]:
    """The level of an item at a location, locked; with `create`, a missing one is created
    empty first (concurrent creators wait on the unique index instead of failing)."""
    iid = parse_id(inventory_item_id, "inventory_item_id")
    lid = parse_id(location_id, "location_id")
    await fetch_owned(unit.conn, ITEMS, tenant_id, iid)
    await fetch_owned(unit.conn, LOCATIONS, tenant_id, lid)
    created = False
    if create:
        created = bool(await unit.conn.fetchval(
            QUERIES["level_create"], new_id(), tenant_id, iid, lid))
    row = await unit.conn.fetchrow(
        QUERIES["level_lock"],
        tenant_id, iid, lid)
    return (dict(row) if row is not None else None), created


async def _write_level(unit: Unit, tenant_id: uuid.UUID, level: dict[str, Any], created: bool,
                       stocked: int, incoming: int) -> dict[str, Any]:
    if not created and (stocked, incoming) == (level["stocked_quantity"],
                                               level["incoming_quantity"]):
        return level
    row = await unit.conn.fetchrow(
        QUERIES["level_set"], level["id"], stocked, incoming)
    assert row is not None
    unit.emit(tenant_id, ev.InventoryUpdated(
        inventory_item_id=level["inventory_item_id"], location_id=level["location_id"],
        old_quantity=level["stocked_quantity"], new_quantity=stocked,
        old_reserved=level["reserved_quantity"], new_reserved=level["reserved_quantity"]))
    return dict(row)


@write_service(MODULE)
async def set_stock_level(unit: Unit, tenant_id: uuid.UUID, inventory_item_id: IdLike,
                          location_id: IdLike, stocked_quantity: int,
                          incoming_quantity: int | None = None) -> dict[str, Any]:
    """Create or set an item's level at a location (`incoming_quantity` None keeps it);
    reservations are left as they are."""
    spec = parse_input(StockLevelSet, None, stocked_quantity=stocked_quantity,
                       incoming_quantity=incoming_quantity)
    level, created = await _lock_level(unit, tenant_id, inventory_item_id, location_id,
                                       create=True)
    assert level is not None
    incoming = level["incoming_quantity"] if spec.incoming_quantity is None \
        else spec.incoming_quantity
    return await _write_level(unit, tenant_id, level, created, spec.stocked_quantity, incoming)


@write_service(MODULE)
async def adjust_stock(unit: Unit, tenant_id: uuid.UUID, inventory_item_id: IdLike,
                       location_id: IdLike, delta: int) -> dict[str, Any]:
    """Add `delta` (may be negative) to the stocked quantity; below zero is a `Conflict`."""
    spec = parse_input(StockAdjust, None, delta=delta)
    level, created = await _lock_level(unit, tenant_id, inventory_item_id, location_id,
                                       create=True)
    assert level is not None
    stocked = level["stocked_quantity"] + spec.delta
    if stocked < 0:
        raise Conflict("insufficient stock", field="delta")
    if stocked > INT_MAX:
        raise Conflict("stocked quantity would overflow", field="delta")
    return await _write_level(unit, tenant_id, level, created, stocked,
                              level["incoming_quantity"])


@write_service(MODULE)
async def delete_stock_level(unit: Unit, tenant_id: uuid.UUID, inventory_item_id: IdLike,
                             location_id: IdLike) -> dict[str, Any]:
    level, _ = await _lock_level(unit, tenant_id, inventory_item_id, location_id, create=False)
    if level is None:
        raise NotFound("inventory level", f"{inventory_item_id}@{location_id}")
    await unit.conn.execute(QUERIES["level_delete"], level["id"])
    unit.emit(tenant_id, ev.InventoryUpdated(
        inventory_item_id=level["inventory_item_id"], location_id=level["location_id"],
        old_quantity=level["stocked_quantity"], new_quantity=0,
        old_reserved=level["reserved_quantity"], new_reserved=0))
    return level


# ---- set-based level changes for orders ----------------------------------------------------
@dataclass(frozen=True)
class Level:
    """A stock level as the set-based changes for orders read it."""

    id: uuid.UUID
    inventory_item_id: uuid.UUID
    location_id: uuid.UUID
    stocked_quantity: int
    reserved_quantity: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Level:
        return cls(row["id"], row["inventory_item_id"], row["location_id"],
                   row["stocked_quantity"], row["reserved_quantity"])


async def lock_levels(unit: Unit, tenant_id: uuid.UUID,
                      inventory_item_ids: Iterable[uuid.UUID]) -> list[Level]:
    """Every level of these items, locked in (item, location) order: every multi-level writer
    locks in this one order, so two of them cannot deadlock."""
    rows = await unit.conn.fetch(
        QUERIES["levels_lock"],
        tenant_id, sorted(set(inventory_item_ids)))
    return [Level.from_row(row) for row in rows]


async def apply_levels(unit: Unit, tenant_id: uuid.UUID, levels: list[Level],
                       new: Mapping[uuid.UUID, tuple[int, int]]) -> None:
    """Set (stocked, reserved) of locked `levels` by level id in one statement, and emit one
    `InventoryUpdated` per level that changed."""
    changed = [level for level in levels if level.id in new
               and new[level.id] != (level.stocked_quantity, level.reserved_quantity)]
    if not changed:
        return
    await unit.conn.execute(
        QUERIES["levels_apply"],
        [level.id for level in changed], [new[level.id][0] for level in changed],
        [new[level.id][1] for level in changed])
    for level in changed:
        stocked, reserved = new[level.id]
        unit.emit(tenant_id, ev.InventoryUpdated(
            inventory_item_id=level.inventory_item_id, location_id=level.location_id,
            old_quantity=level.stocked_quantity, new_quantity=stocked,
            old_reserved=level.reserved_quantity, new_reserved=reserved))
