from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from core_write.errors import Conflict, ModuleDisabled, NotFound, TenantMismatch, ValidationFailed
from core_write.services import commerce_categories as cats
from core_write.services import tenants
from core_write.unit import CoreWrite
from tests.builders import events_after, make_product, make_tenant, outbox_mark


@pytest.fixture
async def shop(core: CoreWrite) -> dict[str, Any]:
    return await make_tenant(core)


async def make_cat(core: CoreWrite, tenant_id: Any, handle: str, **extra: Any) -> dict[str, Any]:
    data = {"name": handle.title(), "handle": handle, **extra}
    return (await core.call(cats.create_category, tenant_id, data)).value


async def test_create_category_with_parent(core: CoreWrite, pool: asyncpg.Pool,
                                           shop: dict[str, Any]) -> None:
    mark = await outbox_mark(pool)
    root = await make_cat(core, shop["id"], "apparel")
    child = await make_cat(core, shop["id"], "shirts", parent_id=str(root["id"]), rank=2)
    assert child["parent_id"] == root["id"] and child["rank"] == 2 and child["is_active"]
    assert await events_after(pool, mark) == [
        {"type": "CommerceCategoryCreated", "category_id": str(root["id"])},
        {"type": "CommerceCategoryCreated", "category_id": str(child["id"])}]


async def test_handle_unique_per_tenant_only(core: CoreWrite, pool: asyncpg.Pool,
                                             shop: dict[str, Any]) -> None:
    other = await make_tenant(core)
    await make_cat(core, shop["id"], "sale")
    await make_cat(core, other["id"], "sale")
    mark = await outbox_mark(pool)
    with pytest.raises(Conflict) as info:
        await make_cat(core, shop["id"], "sale")
    assert info.value.field == "handle"
    assert await events_after(pool, mark) == []


@pytest.mark.parametrize(("data", "field"), [
    ({"name": "", "handle": "ok"}, "name"),
    ({"name": "x", "handle": "Has Spaces"}, "handle"),
    ({"name": "x", "handle": "ok", "rank": -1}, "rank"),
    ({"name": "x", "handle": "ok", "parent_id": "garbage"}, "parent_id"),
    ({"name": "x", "handle": "ok", "colour": "red"}, "colour"),
])
async def test_bad_category_input_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], data: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        await core.call(cats.create_category, shop["id"], data)
    assert info.value.field == field
    assert await pool.fetchval("SELECT count(*) FROM commerce_categories") == 0


async def test_update_rename_and_move_report_changes(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    a = await make_cat(core, shop["id"], "a")
    b = await make_cat(core, shop["id"], "b")
    mark = await outbox_mark(pool)
    await core.call(cats.update_category, shop["id"], b["id"], {"name": b["name"]})  # no-op
    moved = (await core.call(cats.update_category, shop["id"], b["id"],
                             {"name": "Bee", "parent_id": a["id"]})).value
    assert moved["parent_id"] == a["id"] and moved["name"] == "Bee"
    rooted = (await core.call(cats.update_category, shop["id"], b["id"],
                              {"parent_id": None})).value
    assert rooted["parent_id"] is None
    assert await events_after(pool, mark) == [
        {"type": "CommerceCategoryUpdated", "category_id": str(b["id"]),
         "changed": ["name", "parent_id"]},
        {"type": "CommerceCategoryUpdated", "category_id": str(b["id"]),
         "changed": ["parent_id"]}]


async def test_moves_that_would_make_a_cycle_are_refused(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    a = await make_cat(core, shop["id"], "a")
    b = await make_cat(core, shop["id"], "b", parent_id=a["id"])
    c = await make_cat(core, shop["id"], "c", parent_id=b["id"])
    mark = await outbox_mark(pool)
    for target in (a, c):
        with pytest.raises(ValidationFailed) as info:
            await core.call(cats.update_category, shop["id"], a["id"], {"parent_id": target["id"]})
        assert info.value.field == "parent_id"
    assert await pool.fetchval("SELECT parent_id FROM commerce_categories WHERE id = $1",
                               a["id"]) is None
    assert await events_after(pool, mark) == []


async def test_delete_category_unlinks_products_and_roots_children(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    parent = await make_cat(core, shop["id"], "parent")
    child = await make_cat(core, shop["id"], "child", parent_id=parent["id"])
    product = await make_product(core, shop["id"])
    await core.call(cats.link_product_category, shop["id"], product["id"], parent["id"])
    mark = await outbox_mark(pool)
    await core.call(cats.delete_category, shop["id"], parent["id"])
    assert await pool.fetchval("SELECT count(*) FROM commerce_product_categories") == 0
    assert await pool.fetchval("SELECT parent_id FROM commerce_categories WHERE id = $1",
                               child["id"]) is None
    assert await events_after(pool, mark) == [
        {"type": "CommerceCategoryDeleted", "category_id": str(parent["id"])},
        {"type": "CommerceCategoryUpdated", "category_id": str(child["id"]),
         "changed": ["parent_id"]}]
    with pytest.raises(NotFound):
        await core.call(cats.delete_category, shop["id"], parent["id"])


async def test_link_and_unlink_are_idempotent(core: CoreWrite, pool: asyncpg.Pool,
                                              shop: dict[str, Any]) -> None:
    cat = await make_cat(core, shop["id"], "shoes")
    product = await make_product(core, shop["id"])
    mark = await outbox_mark(pool)
    first = (await core.call(cats.link_product_category, shop["id"], product["id"],
                             cat["id"])).value
    second = (await core.call(cats.link_product_category, shop["id"], str(product["id"]),
                              str(cat["id"]))).value
    assert first["changed"] is True and second["changed"] is False
    assert await pool.fetchval("SELECT count(*) FROM commerce_product_categories") == 1
    await core.call(cats.unlink_product_category, shop["id"], product["id"], cat["id"])
    gone = (await core.call(cats.unlink_product_category, shop["id"], product["id"],
                            cat["id"])).value
    assert gone["changed"] is False
    assert await pool.fetchval("SELECT count(*) FROM commerce_product_categories") == 0
    link = {"product_id": str(product["id"]), "category_id": str(cat["id"])}
    assert await events_after(pool, mark) == [
        {"type": "ProductCategoryLinked", **link}, {"type": "ProductCategoryUnlinked", **link}]


async def test_tenant_cannot_touch_another_tenants_categories(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    intruder = await make_tenant(core)
    cat = await make_cat(core, shop["id"], "mine")
    product = await make_product(core, shop["id"])
    own_cat = await make_cat(core, intruder["id"], "own")
    own_product = await make_product(core, intruder["id"])
    before = await pool.fetch("SELECT * FROM commerce_categories ORDER BY id")
    mark = await outbox_mark(pool)
    iid = intruder["id"]
    attempts: list[tuple[Any, tuple[Any, ...]]] = [
        (cats.update_category, (cat["id"], {"name": "stolen"})),
        (cats.delete_category, (cat["id"],)),
        (cats.create_category, ({"name": "x", "handle": "x", "parent_id": cat["id"]},)),
        (cats.update_category, (own_cat["id"], {"parent_id": cat["id"]})),
        (cats.link_product_category, (product["id"], own_cat["id"])),
        (cats.link_product_category, (own_product["id"], cat["id"])),
        (cats.unlink_product_category, (product["id"], cat["id"])),
    ]
    for service, args in attempts:
        with pytest.raises(TenantMismatch):
            await core.call(service, iid, *args)
    assert await pool.fetch("SELECT * FROM commerce_categories ORDER BY id") == before
    assert await pool.fetchval("SELECT count(*) FROM commerce_product_categories") == 0
    assert await events_after(pool, mark) == []


async def test_disabled_module_refuses_category_writes(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    cat = await make_cat(core, shop["id"], "c")
    product = await make_product(core, shop["id"])
    await core.call(tenants.set_module, shop["id"], "commerce", False)
    mark = await outbox_mark(pool)
    with pytest.raises(ModuleDisabled):
        await make_cat(core, shop["id"], "d")
    with pytest.raises(ModuleDisabled):
        await core.call(cats.link_product_category, shop["id"], product["id"], cat["id"])
    assert await events_after(pool, mark) == []
