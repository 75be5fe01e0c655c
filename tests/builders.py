"""Small builders for test data: each takes overrides and writes through core_write."""

from __future__ import annotations

import random
import string
import uuid
from typing import Any

import asyncpg
from argon2 import PasswordHasher

from core_write.services import catalog as catalog_service
from core_write.services import content, taxonomy, tenants, users
from core_write.services import inventory as inventory_service
from core_write.unit import CoreWrite

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""Cheap argon2 parameters for tests: patch it over `users.hasher`."""


async def make_tenant(core: CoreWrite, **overrides: Any) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    data: dict[str, Any] = {"name": f"Shop {suffix}", "slug": f"shop-{suffix}"}
    data.update(overrides)
    return (await core.call(tenants.create_tenant, data)).value


async def make_user(core: CoreWrite, tenant_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    data: dict[str, Any] = {"email": f"user-{suffix}@example.com", "password": "correct horse",
                            "display_name": f"User {suffix}", "role": "author"}
    data.update(overrides)
    return (await core.call(users.create_user, tenant_id, data)).value


async def make_category(
    core: CoreWrite, tenant_id: uuid.UUID, **overrides: Any
) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    data: dict[str, Any] = {"name": f"Category {suffix}"}
    data.update(overrides)
    return (await core.call(taxonomy.create_category, tenant_id, data)).value


async def make_node(core: CoreWrite, tenant_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    """A draft post unless told otherwise; a comment gets no title by default."""
    data: dict[str, Any] = {"kind": "post"}
    data.update(overrides)
    if data["kind"] != "comment":
        data.setdefault("title", f"Post {uuid.uuid4().hex[:8]}")
    return (await core.call(content.create_node, tenant_id, data)).value


async def make_tag(core: CoreWrite, tenant_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": f"Tag {uuid.uuid4().hex[:8]}"}
    data.update(overrides)
    return (await core.call(taxonomy.create_tag, tenant_id, data)).value


async def outbox_mark(pool: asyncpg.Pool) -> int:
    """The highest outbox seq so far: `events_after(pool, mark)` lists what came later."""
    return int(await pool.fetchval("SELECT coalesce(max(seq), 0) FROM outbox"))


async def events_after(pool: asyncpg.Pool, mark: int) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT payload FROM outbox WHERE seq > $1 ORDER BY seq", mark)
    return [row["payload"]["event"] for row in rows]


async def make_product(core: CoreWrite, tenant_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    data: dict[str, Any] = {"title": f"Product {suffix}", "handle": f"product-{suffix}"}
    data.update(overrides)
    return (await core.call(catalog_service.create_product, tenant_id, data)).value


async def make_variant(core: CoreWrite, tenant_id: uuid.UUID, product_id: uuid.UUID,
                       **overrides: Any) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    data: dict[str, Any] = {"title": f"Variant {suffix}", "sku": f"SKU-{suffix}"}
    data.update(overrides)
    return (await core.call(catalog_service.create_variant, tenant_id, product_id, data)).value


async def make_inventory_item(core: CoreWrite, tenant_id: uuid.UUID,
                              **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"sku": f"INV-{uuid.uuid4().hex[:8]}"}
    data.update(overrides)
    return (await core.call(inventory_service.create_inventory_item, tenant_id, data)).value


async def make_stock_location(core: CoreWrite, tenant_id: uuid.UUID,
                              **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": f"Warehouse {uuid.uuid4().hex[:6]}"}
    data.update(overrides)
    return (await core.call(inventory_service.create_stock_location, tenant_id, data)).value


async def make_stocked_variant(
    core: CoreWrite, tenant_id: uuid.UUID, *, price: int = 1000, currency: str = "USD",
    stock: dict[uuid.UUID, int] | None = None, required_quantity: int = 1, **variant: Any,
) -> dict[str, Any]:
    """A product with one priced variant linked to a new inventory item stocked `stock`
    ({location_id: quantity}); returns the variant row plus `inventory_item_id`."""
    product = await make_product(core, tenant_id)
    row = await make_variant(core, tenant_id, product["id"], **variant)
    await core.call(catalog_service.set_price, tenant_id, row["id"], currency, price)
    item = await make_inventory_item(core, tenant_id)
    await core.call(inventory_service.link_variant_inventory, tenant_id, row["id"], item["id"],
                    required_quantity)
    for location_id, quantity in (stock or {}).items():
        await core.call(inventory_service.set_stock_level, tenant_id, item["id"], location_id,
                        quantity)
    return {**row, "inventory_item_id": item["id"]}


def distinct_words(size: int, seed: int = 1) -> str:
    """About `size` characters of distinct random words (the worst case for a tsvector)."""
    rng = random.Random(seed)
    words: list[str] = []
    length = 0
    while length < size:
        word = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 9)))
        words.append(word)
        length += len(word) + 1
    return " ".join(words)
