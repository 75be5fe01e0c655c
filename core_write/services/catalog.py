"""Catalog writes: products, their variants, options with their values, and variant prices
(I/O: the unit's connection). Every write first checks the tenant's commerce module."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core_write import events as ev
from core_write.errors import ValidationFailed
from core_write.ids import new_id, parse_id
from core_write.queries import QUERIES
from core_write.rows import Table, changed_fields, delete, fetch_owned, insert, update
from core_write.unit import Unit, write_service
from core_write.validate import (
    BIGINT_MAX,
    INT_MAX,
    Currency,
    Description,
    HttpUrl,
    Id,
    IdLike,
    JsonObject,
    Slug,
    Text,
    given,
    parse_input,
)

PRODUCTS = Table("commerce_products", "product")
VARIANTS = Table("commerce_variants", "variant")
OPTIONS = Table("commerce_options", "option", touch=False)
PRICES = Table("commerce_prices", "price")

MODULE = "commerce"
Dimension = Annotated[int, Field(ge=0, le=INT_MAX)]


class ProductUpdate(BaseModel):
    """Only the fields given change; status goes through publish/unpublish."""

    model_config = ConfigDict(extra="forbid")
    title: Text | None = None
    subtitle: str | None = Field(default=None, max_length=255)
    handle: Slug | None = None
    description: Description | None = None
    thumbnail: HttpUrl | None = None
    """The image a product card shows: an absolute http(s) URL (null clears it)."""
    discountable: bool | None = None
    metadata: JsonObject | None = None


class ProductCreate(ProductUpdate):
    title: Text
    handle: Slug
    status: Literal["draft", "proposed", "published", "rejected"] = "draft"
    discountable: bool = True
    metadata: JsonObject = Field(default_factory=dict)


class VariantUpdate(BaseModel):
    """Only the fields given change; `option_value_ids` replaces the variant's values."""

    model_config = ConfigDict(extra="forbid")
    title: Text | None = None
    sku: str | None = Field(default=None, min_length=1, max_length=64)
    barcode: str | None = Field(default=None, min_length=1, max_length=64)
    manage_inventory: bool | None = None
    allow_backorder: bool | None = None
    weight: Dimension | None = None
    length: Dimension | None = None
    height: Dimension | None = None
    width: Dimension | None = None
    position: Dimension | None = None
    metadata: JsonObject | None = None
    option_value_ids: list[Id] | None = Field(default=None, max_length=64)


class VariantCreate(VariantUpdate):
    title: Text
    manage_inventory: bool = True
    allow_backorder: bool = False
    position: Dimension = 0
    metadata: JsonObject = Field(default_factory=dict)
    option_value_ids: list[Id] = Field(default_factory=list, max_length=64)


class OptionUpdate(BaseModel):
    """`values`, when given, replaces the option's values (kept values keep their ids)."""

    model_config = ConfigDict(extra="forbid")
    title: Text | None = None
    position: Dimension | None = None
    values: list[Text] | None = Field(default=None, max_length=200)

    @field_validator("values")
    @classmethod
    def _distinct(cls, values: list[str] | None) -> list[str] | None:
        if values is not None and len(set(values)) != len(values):
            raise ValueError("values must be distinct")
        return values


class OptionCreate(OptionUpdate):
    title: Text
    position: Dimension = 0
    values: list[Text] = Field(default_factory=list, max_length=200)


class PriceSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    currency_code: Currency
    amount: int = Field(ge=0, le=BIGINT_MAX)
    price_list_id: Id | None = None
    """Refused until price lists exist: there is no price-list table to check an id against,
    so a price under any list id would be a price under a list that does not exist."""
    min_quantity: int = Field(default=1, ge=1, le=INT_MAX)

    @field_validator("price_list_id")
    @classmethod
    def _no_price_lists(cls, value: uuid.UUID | None) -> uuid.UUID | None:
        if value is not None:
            raise ValueError("price lists are not supported yet; give no price_list_id")
        return value


# ---- products ------------------------------------------------------------------------------
@write_service(MODULE)
async def create_product(unit: Unit, tenant_id: uuid.UUID,
                         data: ProductCreate | Mapping[str, Any]) -> dict[str, Any]:
    spec = parse_input(ProductCreate, data)
    published_at = datetime.now(UTC) if spec.status == "published" else None
    row = await insert(unit.conn, PRODUCTS, {
        "id": new_id(), "tenant_id": tenant_id, **spec.model_dump(), "published_at": published_at,
    })
    unit.emit(tenant_id, ev.ProductCreated(product_id=row["id"]))
    if spec.status == "published":  # as for nodes: created published is also a publication
        unit.emit(tenant_id, ev.ProductPublished(product_id=row["id"]))
    return row


@write_service(MODULE)
async def update_product(unit: Unit, tenant_id: uuid.UUID, product_id: IdLike,
                         data: ProductUpdate | Mapping[str, Any]) -> dict[str, Any]:
    spec = parse_input(ProductUpdate, data)
    pid = parse_id(product_id, "product_id")
    current = await fetch_owned(unit.conn, PRODUCTS, tenant_id, pid, lock=True)
    changes = changed_fields(current, given(spec, frozenset({"subtitle", "description",
                                                              "thumbnail"})))
    if not changes:
        return current
    row = await update(unit.conn, PRODUCTS, tenant_id, pid, changes)
    unit.emit(tenant_id, ev.ProductUpdated(product_id=pid, changed=sorted(changes)))
    return row


@write_service(MODULE)
async def publish_product(unit: Unit, tenant_id: uuid.UUID, product_id: IdLike) -> dict[str, Any]:
    pid = parse_id(product_id, "product_id")
    current = await fetch_owned(unit.conn, PRODUCTS, tenant_id, pid, lock=True)
    if current["status"] == "published":
        return current
    row = await update(unit.conn, PRODUCTS, tenant_id, pid,
                       {"status": "published", "published_at": datetime.now(UTC)})
    unit.emit(tenant_id, ev.ProductPublished(product_id=pid))
    return row


@write_service(MODULE)
async def unpublish_product(unit: Unit, tenant_id: uuid.UUID, product_id: IdLike,
                            status: str = "draft") -> dict[str, Any]:
    """Move a product to a non-published status (clearing `published_at`)."""
    if status not in ("draft", "proposed", "rejected"):
        raise ValidationFailed("status", "must be one of draft, proposed, rejected")
    pid = parse_id(product_id, "product_id")
    current = await fetch_owned(unit.conn, PRODUCTS, tenant_id, pid, lock=True)
    if current["status"] == status:
        return current
    row = await update(unit.conn, PRODUCTS, tenant_id, pid,
                       {"status": status, "published_at": None})
    unit.emit(tenant_id, ev.ProductUnpublished(product_id=pid, status=status))
    return row


@write_service(MODULE)
async def delete_product(unit: Unit, tenant_id: uuid.UUID, product_id: IdLike) -> dict[str, Any]:
    """Delete a product; its variants, options, prices and links go by cascade, its tags and
    meta by trigger."""
    pid = parse_id(product_id, "product_id")
    await fetch_owned(unit.conn, PRODUCTS, tenant_id, pid)
    row = await delete(unit.conn, PRODUCTS, tenant_id, pid)
    unit.emit(tenant_id, ev.ProductDeleted(product_id=pid))
    return row


# ---- variants ------------------------------------------------------------------------------
async def _check_option_values(unit: Unit, tenant_id: uuid.UUID, product_id: uuid.UUID,
                               value_ids: list[uuid.UUID]) -> None:
    """Each value must belong to an option of this product, and at most one per option."""
    if len(set(value_ids)) != len(value_ids):
        raise ValidationFailed("option_value_ids", "lists a value twice")
    rows = await unit.conn.fetch(
        QUERIES["option_values_of_product"],
        value_ids, tenant_id, product_id)
    missing = set(value_ids) - {row["id"] for row in rows}
    if missing:
        raise ValidationFailed("option_value_ids",
                               f"not values of this product's options: {sorted(map(str, missing))}")
    if len({row["option_id"] for row in rows}) != len(rows):
        raise ValidationFailed("option_value_ids", "gives two values of one option")


async def _option_value_ids(unit: Unit, variant_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await unit.conn.fetch(
        QUERIES["variant_option_value_ids"],
        variant_id)
    return [row["option_value_id"] for row in rows]


async def _set_option_values(unit: Unit, tenant_id: uuid.UUID, variant_id: uuid.UUID,
                             value_ids: list[uuid.UUID]) -> None:
    await unit.conn.execute(QUERIES["variant_options_clear"],
                            variant_id)
    await unit.conn.execute(
        QUERIES["variant_options_insert"], tenant_id, variant_id, value_ids)


@write_service(MODULE)
async def create_variant(unit: Unit, tenant_id: uuid.UUID, product_id: IdLike,
                         data: VariantCreate | Mapping[str, Any]) -> dict[str, Any]:
    spec = parse_input(VariantCreate, data)
    pid = parse_id(product_id, "product_id")
    await fetch_owned(unit.conn, PRODUCTS, tenant_id, pid)
    values = spec.option_value_ids
    await _check_option_values(unit, tenant_id, pid, values)
    row = await insert(unit.conn, VARIANTS, {
        "id": new_id(), "tenant_id": tenant_id, "product_id": pid,
        **spec.model_dump(exclude={"option_value_ids"}),
    })
    if values:
        await _set_option_values(unit, tenant_id, row["id"], values)
    unit.emit(tenant_id, ev.VariantCreated(product_id=pid, variant_id=row["id"]))
    return {**row, "option_value_ids": sorted(values)}


@write_service(MODULE)
async def update_variant(unit: Unit, tenant_id: uuid.UUID, variant_id: IdLike,
                         data: VariantUpdate | Mapping[str, Any]) -> dict[str, Any]:
    spec = parse_input(VariantUpdate, data)
    vid = parse_id(variant_id, "variant_id")
    current = await fetch_owned(unit.conn, VARIANTS, tenant_id, vid, lock=True)
    wanted = given(spec, frozenset({"sku", "barcode", "weight", "length", "height", "width"}))
    new_values = wanted.pop("option_value_ids", None)
    changes = changed_fields(current, wanted)
    old_values = await _option_value_ids(unit, vid)
    changed = sorted(changes)
    if new_values is not None:
        await _check_option_values(unit, tenant_id, current["product_id"], new_values)
    if new_values is not None and set(new_values) != set(old_values):
        await _set_option_values(unit, tenant_id, vid, new_values)
        old_values = sorted(new_values)
        changed = sorted([*changed, "option_value_ids"])
    if not changed:
        return {**current, "option_value_ids": old_values}
    row = await update(unit.conn, VARIANTS, tenant_id, vid, changes) if changes else current
    unit.emit(tenant_id, ev.VariantUpdated(product_id=current["product_id"], variant_id=vid,
                                           changed=changed))
    return {**row, "option_value_ids": old_values}


@write_service(MODULE)
async def delete_variant(unit: Unit, tenant_id: uuid.UUID, variant_id: IdLike) -> dict[str, Any]:
    """Delete a variant; its prices, option values and inventory links go by cascade."""
    vid = parse_id(variant_id, "variant_id")
    await fetch_owned(unit.conn, VARIANTS, tenant_id, vid)
    row = await delete(unit.conn, VARIANTS, tenant_id, vid)
    unit.emit(tenant_id, ev.VariantDeleted(product_id=row["product_id"], variant_id=vid))
    return row


# ---- options -------------------------------------------------------------------------------
async def _option_values(unit: Unit, option_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await unit.conn.fetch(
        QUERIES["option_values"],
        option_id)
    return [dict(row) for row in rows]


async def _replace_values(unit: Unit, tenant_id: uuid.UUID, option_id: uuid.UUID,
                          values: list[str]) -> bool:
    """Make the option's values exactly `values` in that order; True if anything changed.
    Values kept by text keep their id, so variants keep pointing at them."""
    current = {row["value"]: row for row in await _option_values(unit, option_id)}
    removed = [row["id"] for text, row in current.items() if text not in values]
    added = [(new_id(), text, pos) for pos, text in enumerate(values) if text not in current]
    moved = [(current[text]["id"], pos) for pos, text in enumerate(values)
             if text in current and current[text]["position"] != pos]
    if removed:
        await unit.conn.execute(QUERIES["option_values_delete"],
                                removed)
    if added:
        await unit.conn.execute(
            QUERIES["option_values_insert"],
            tenant_id, option_id, *map(list, zip(*added, strict=True)))
    if moved:
        await unit.conn.execute(
            QUERIES["option_values_move"],
            *map(list, zip(*moved, strict=True)))
    return bool(removed or added or moved)


@write_service(MODULE)
async def create_option(unit: Unit, tenant_id: uuid.UUID, product_id: IdLike,
                        data: OptionCreate | Mapping[str, Any]) -> dict[str, Any]:
    """Create an option with its values; the result lists them under `values`."""
    spec = parse_input(OptionCreate, data)
    pid = parse_id(product_id, "product_id")
    await fetch_owned(unit.conn, PRODUCTS, tenant_id, pid)
    row = await insert(unit.conn, OPTIONS, {"id": new_id(), "tenant_id": tenant_id,
                                            "product_id": pid, "title": spec.title,
                                            "position": spec.position})
    await _replace_values(unit, tenant_id, row["id"], spec.values)
    unit.emit(tenant_id, ev.OptionCreated(product_id=pid, option_id=row["id"]))
    return {**row, "values": await _option_values(unit, row["id"])}


@write_service(MODULE)
async def update_option(unit: Unit, tenant_id: uuid.UUID, option_id: IdLike,
                        data: OptionUpdate | Mapping[str, Any]) -> dict[str, Any]:
    spec = parse_input(OptionUpdate, data)
    oid = parse_id(option_id, "option_id")
    current = await fetch_owned(unit.conn, OPTIONS, tenant_id, oid, lock=True)
    wanted = given(spec)
    values = wanted.pop("values", None)
    changes = changed_fields(current, wanted)
    row = await update(unit.conn, OPTIONS, tenant_id, oid, changes) if changes else current
    values_changed = values is not None and await _replace_values(unit, tenant_id, oid, values)
    if changes or values_changed:
        unit.emit(tenant_id, ev.OptionUpdated(product_id=current["product_id"], option_id=oid))
    return {**row, "values": await _option_values(unit, oid)}


@write_service(MODULE)
async def delete_option(unit: Unit, tenant_id: uuid.UUID, option_id: IdLike) -> dict[str, Any]:
    """Delete an option; its values, and the variants' links to them, go by cascade."""
    oid = parse_id(option_id, "option_id")
    await fetch_owned(unit.conn, OPTIONS, tenant_id, oid)
    row = await delete(unit.conn, OPTIONS, tenant_id, oid)
    unit.emit(tenant_id, ev.OptionDeleted(product_id=row["product_id"], option_id=oid))
    return row


# ---- prices --------------------------------------------------------------------------------
@write_service(MODULE)
async def set_price(unit: Unit, tenant_id: uuid.UUID, variant_id: IdLike, currency_code: str,
                    amount: int, price_list_id: IdLike | None = None,
                    min_quantity: int = 1) -> dict[str, Any]:
    """Create or change the price of a variant for (currency, price list, min quantity)."""
    spec = parse_input(PriceSet, None, currency_code=currency_code, amount=amount,
                       price_list_id=price_list_id, min_quantity=min_quantity)
    vid = parse_id(variant_id, "variant_id")
    # Locking the variant serializes price writes per variant, so the old amount is exact.
    variant = await fetch_owned(unit.conn, VARIANTS, tenant_id, vid, lock=True)
    current = await unit.conn.fetchrow(
        QUERIES["price_find"],
        vid, spec.currency_code, spec.price_list_id, spec.min_quantity)
    if current is None:
        old_amount = None
        row = await insert(unit.conn, PRICES, {
            "id": new_id(), "tenant_id": tenant_id, "variant_id": vid, **spec.model_dump()})
    elif current["amount"] == spec.amount:
        return dict(current)
    else:
        old_amount = current["amount"]
        row = await update(unit.conn, PRICES, tenant_id, current["id"], {"amount": spec.amount})
    unit.emit(tenant_id, ev.PriceChanged(
        product_id=variant["product_id"], price_id=row["id"], variant_id=vid,
        currency_code=spec.currency_code, old_amount=old_amount, new_amount=spec.amount))
    return row


@write_service(MODULE)
async def delete_price(unit: Unit, tenant_id: uuid.UUID, price_id: IdLike) -> dict[str, Any]:
    pid = parse_id(price_id, "price_id")
    await fetch_owned(unit.conn, PRICES, tenant_id, pid)
    row = await delete(unit.conn, PRICES, tenant_id, pid)
    product_id = await unit.conn.fetchval(
        QUERIES["variant_product_id"], row["variant_id"])
    unit.emit(tenant_id, ev.PriceDeleted(product_id=product_id, price_id=pid,
                                         variant_id=row["variant_id"],
                                         currency_code=row["currency_code"]))
    return row
