"""Commerce categories (a tree per tenant) and the links between products and categories
(I/O: the unit's connection). Every write first checks the tenant's commerce module."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core_write import events as ev
from core_write.errors import ValidationFailed
from core_write.ids import new_id, parse_id
from core_write.queries import QUERIES
from core_write.rows import Table, changed_fields, delete, fetch_owned, insert, update
from core_write.services.catalog import MODULE, PRODUCTS
from core_write.unit import Unit, write_service
from core_write.validate import (
    INT_MAX,
    Description,
    Id,
    IdLike,
    JsonObject,
    Slug,
    Text,
    given,
    parse_input,
)

CATEGORIES = Table("commerce_categories", "commerce category")


class CommerceCategoryUpdate(BaseModel):
    """Only the fields given change; `parent_id: null` moves the category to the root."""

    model_config = ConfigDict(extra="forbid")
    name: Text | None = None
    handle: Slug | None = None
    description: Description | None = None
    parent_id: Id | None = None
    is_active: bool | None = None
    is_internal: bool | None = None
    rank: int | None = Field(default=None, ge=0, le=INT_MAX)
    metadata: JsonObject | None = None


class CommerceCategoryCreate(CommerceCategoryUpdate):
    name: Text
    handle: Slug
    is_active: bool = True
    is_internal: bool = False
    rank: int = Field(default=0, ge=0, le=INT_MAX)
    metadata: JsonObject = Field(default_factory=dict)


async def _lock_tree(unit: Unit, tenant_id: uuid.UUID) -> None:
    """Serialize moves within a tenant: two concurrent moves could otherwise each pass the
    cycle check and together make a cycle."""
    await unit.conn.execute(QUERIES["commerce_category_tree_lock"], tenant_id)


async def _check_parent(unit: Unit, tenant_id: uuid.UUID, category_id: uuid.UUID | None,
                        parent_id: uuid.UUID) -> None:
    """The parent must be the tenant's and must not be the category or one of its descendants."""
    await fetch_owned(unit.conn, CATEGORIES, tenant_id, parent_id)
    if category_id is None:
        return
    cycle = await unit.conn.fetchval(
        QUERIES["commerce_category_is_ancestor"],
        parent_id, category_id, tenant_id)
    if cycle:
        raise ValidationFailed("parent_id", "would make the category its own ancestor")


@write_service(MODULE)
async def create_category(unit: Unit, tenant_id: uuid.UUID,
                          data: CommerceCategoryCreate | Mapping[str, Any]) -> dict[str, Any]:
    spec = parse_input(CommerceCategoryCreate, data)
    if spec.parent_id is not None:
        await _check_parent(unit, tenant_id, None, spec.parent_id)
    row = await insert(unit.conn, CATEGORIES,
                       {"id": new_id(), "tenant_id": tenant_id, **spec.model_dump()})
    unit.emit(tenant_id, ev.CommerceCategoryCreated(category_id=row["id"]))
    return row


@write_service(MODULE)
async def update_category(unit: Unit, tenant_id: uuid.UUID, category_id: IdLike,
                          data: CommerceCategoryUpdate | Mapping[str, Any]) -> dict[str, Any]:
    """Rename, move or edit a category: `CommerceCategoryUpdated(changed)` if anything changed."""
    spec = parse_input(CommerceCategoryUpdate, data)
    cid = parse_id(category_id, "category_id")
    wanted = given(spec, frozenset({"description", "parent_id"}))
    if "parent_id" in wanted:
        await _lock_tree(unit, tenant_id)
    current = await fetch_owned(unit.conn, CATEGORIES, tenant_id, cid, lock=True)
    changes = changed_fields(current, wanted)
    if not changes:
        return current
    if changes.get("parent_id") is not None:
        await _check_parent(unit, tenant_id, cid, changes["parent_id"])
    row = await update(unit.conn, CATEGORIES, tenant_id, cid, changes)
    unit.emit(tenant_id, ev.CommerceCategoryUpdated(category_id=cid, changed=sorted(changes)))
    return row


@write_service(MODULE)
async def delete_category(unit: Unit, tenant_id: uuid.UUID, category_id: IdLike) -> dict[str, Any]:
    """Delete a category: its product links go by cascade, its children move to the root
    (each gets a `CommerceCategoryUpdated(changed=["parent_id"])`: its path changed)."""
    cid = parse_id(category_id, "category_id")
    await _lock_tree(unit, tenant_id)
    await fetch_owned(unit.conn, CATEGORIES, tenant_id, cid)
    children = await unit.conn.fetch(
        QUERIES["commerce_category_children"],
        tenant_id, cid)
    row = await delete(unit.conn, CATEGORIES, tenant_id, cid)
    unit.emit(tenant_id, ev.CommerceCategoryDeleted(category_id=cid))
    for child in children:
        unit.emit(tenant_id, ev.CommerceCategoryUpdated(category_id=child["id"],
                                                        changed=["parent_id"]))
    return row


@write_service(MODULE)
async def link_product_category(unit: Unit, tenant_id: uuid.UUID, product_id: IdLike,
                                category_id: IdLike) -> dict[str, Any]:
    """Put a product in a category; linking again is a no-op without an event."""
    pid = parse_id(product_id, "product_id")
    cid = parse_id(category_id, "category_id")
    await fetch_owned(unit.conn, PRODUCTS, tenant_id, pid)
    await fetch_owned(unit.conn, CATEGORIES, tenant_id, cid)
    row = await unit.conn.fetchrow(
        QUERIES["product_category_link"], tenant_id, pid, cid)
    if row is not None:
        unit.emit(tenant_id, ev.ProductCategoryLinked(product_id=pid, category_id=cid))
    return {"tenant_id": tenant_id, "product_id": pid, "category_id": cid,
            "changed": row is not None}


@write_service(MODULE)
async def unlink_product_category(unit: Unit, tenant_id: uuid.UUID, product_id: IdLike,
                                  category_id: IdLike) -> dict[str, Any]:
    """Take a product out of a category; unlinking what is not linked is a no-op."""
    pid = parse_id(product_id, "product_id")
    cid = parse_id(category_id, "category_id")
    await fetch_owned(unit.conn, PRODUCTS, tenant_id, pid)
    await fetch_owned(unit.conn, CATEGORIES, tenant_id, cid)
    row = await unit.conn.fetchrow(
        QUERIES["product_category_unlink"],
        tenant_id, pid, cid)
    if row is not None:
        unit.emit(tenant_id, ev.ProductCategoryUnlinked(product_id=pid, category_id=cid))
    return {"tenant_id": tenant_id, "product_id": pid, "category_id": cid,
            "changed": row is not None}
