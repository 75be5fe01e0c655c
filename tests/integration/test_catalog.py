from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from ulid import ULID

from core_write.errors import Conflict, ModuleDisabled, NotFound, TenantMismatch, ValidationFailed
from core_write.ids import new_id
from core_write.services import catalog, tenants
from core_write.unit import CoreWrite
from tests.builders import events_after, make_product, make_tenant, make_variant, outbox_mark


@pytest.fixture
async def shop(core: CoreWrite) -> dict[str, Any]:
    return await make_tenant(core)


async def test_create_product_writes_row_and_one_event(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    mark = await outbox_mark(pool)
    row = (await core.call(catalog.create_product, shop["id"], {
        "title": "Linen Shirt", "handle": "linen-shirt", "subtitle": "Breezy",
        "metadata": {"origin": "PT"}})).value
    stored = await pool.fetchrow("SELECT * FROM commerce_products WHERE id = $1", row["id"])
    assert stored["tenant_id"] == shop["id"] and stored["status"] == "draft"
    assert stored["metadata"] == {"origin": "PT"} and stored["published_at"] is None
    assert await events_after(pool, mark) == [
        {"type": "ProductCreated", "product_id": str(row["id"])}]


async def test_product_created_published_has_published_at(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    mark = await outbox_mark(pool)
    row = await make_product(core, shop["id"], status="published")
    assert row["status"] == "published" and row["published_at"] is not None
    assert [e["type"] for e in await events_after(pool, mark)] == [
        "ProductCreated", "ProductPublished"]


async def test_duplicate_handle_conflicts_per_tenant_only(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    other = await make_tenant(core)
    await make_product(core, shop["id"], handle="tee")
    await make_product(core, other["id"], handle="tee")
    mark = await outbox_mark(pool)
    with pytest.raises(Conflict) as info:
        await make_product(core, shop["id"], handle="tee")
    assert info.value.field == "handle"
    assert await pool.fetchval("SELECT count(*) FROM commerce_products") == 2
    assert await events_after(pool, mark) == []


@pytest.mark.parametrize(("data", "field"), [
    ({"title": "", "handle": "ok"}, "title"),
    ({"title": "x", "handle": "Not A Handle"}, "handle"),
    ({"title": "x", "handle": "h" * 256}, "handle"),
    ({"title": "x"}, "handle"),
    ({"title": "x", "handle": "ok", "status": "live"}, "status"),
    ({"title": "x", "handle": "ok", "metadata": ["a"]}, "metadata"),
    ({"title": "x", "handle": "ok", "discountable": "maybe"}, "discountable"),
    ({"title": "x", "handle": "ok", "price": 3}, "price"),
])
async def test_bad_product_input_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], data: dict[str, Any], field: str
) -> None:
    mark = await outbox_mark(pool)
    with pytest.raises(ValidationFailed) as info:
        await core.call(catalog.create_product, shop["id"], data)
    assert info.value.field == field
    assert await pool.fetchval("SELECT count(*) FROM commerce_products") == 0
    assert await events_after(pool, mark) == []


async def test_update_product_emits_changed_fields_only_on_change(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    product = await make_product(core, shop["id"], subtitle="old")
    mark = await outbox_mark(pool)
    same = (await core.call(catalog.update_product, shop["id"], product["id"],
                            {"title": product["title"]})).value
    assert same["updated_at"] == product["updated_at"]
    row = (await core.call(catalog.update_product, shop["id"], str(product["id"]),
                           {"title": "New", "subtitle": None, "handle": product["handle"]})).value
    assert row["title"] == "New" and row["subtitle"] is None
    assert await events_after(pool, mark) == [
        {"type": "ProductUpdated", "product_id": str(product["id"]),
         "changed": ["subtitle", "title"]}]


@pytest.mark.parametrize(("data", "field"), [
    ({"title": None}, "title"),
    ({"handle": "UPPER"}, "handle"),
    ({"status": "published"}, "status"),
    ({"discountable": None}, "discountable"),
])
async def test_bad_product_update_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], data: dict[str, Any], field: str
) -> None:
    product = await make_product(core, shop["id"])
    mark = await outbox_mark(pool)
    with pytest.raises(ValidationFailed) as info:
        await core.call(catalog.update_product, shop["id"], product["id"], data)
    assert info.value.field == field
    assert await events_after(pool, mark) == []


async def test_publish_and_unpublish(core: CoreWrite, pool: asyncpg.Pool,
                                     shop: dict[str, Any]) -> None:
    product = await make_product(core, shop["id"])
    mark = await outbox_mark(pool)
    published = (await core.call(catalog.publish_product, shop["id"], product["id"])).value
    assert published["status"] == "published" and published["published_at"] is not None
    await core.call(catalog.publish_product, shop["id"], product["id"])  # no-op
    rejected = (await core.call(catalog.unpublish_product, shop["id"], product["id"],
                                "rejected")).value
    assert rejected["status"] == "rejected" and rejected["published_at"] is None
    with pytest.raises(ValidationFailed) as info:
        await core.call(catalog.unpublish_product, shop["id"], product["id"], "published")
    assert info.value.field == "status"
    pid = str(product["id"])
    assert await events_after(pool, mark) == [
        {"type": "ProductPublished", "product_id": pid},
        {"type": "ProductUnpublished", "product_id": pid, "status": "rejected"}]


async def test_delete_product_cascades_and_drops_tags_and_meta(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    tid = shop["id"]
    product = await make_product(core, tid)
    option = (await core.call(catalog.create_option, tid, product["id"],
                              {"title": "Size", "values": ["S", "M"]})).value
    variant = await make_variant(core, tid, product["id"],
                                 option_value_ids=[option["values"][0]["id"]])
    await core.call(catalog.set_price, tid, variant["id"], "EUR", 500)
    tag_id = new_id()
    await pool.execute("INSERT INTO tags (id, tenant_id, name, slug) VALUES ($1, $2, 't', 't')",
                       tag_id, tid)
    await pool.execute("INSERT INTO taggables (tenant_id, tag_id, target_type, target_id) "
                       "VALUES ($1, $2, 'product', $3)", tid, tag_id, product["id"])
    await pool.execute("INSERT INTO meta (id, tenant_id, target_type, target_id, title) "
                       "VALUES ($1, $2, 'product', $3, 'SEO')", new_id(), tid, product["id"])
    mark = await outbox_mark(pool)
    await core.call(catalog.delete_product, tid, product["id"])
    for table in ("commerce_products", "commerce_variants", "commerce_options",
                  "commerce_option_values", "commerce_variant_options", "commerce_prices",
                  "taggables", "meta"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    assert await events_after(pool, mark) == [
        {"type": "ProductDeleted", "product_id": str(product["id"])}]
    with pytest.raises(NotFound):
        await core.call(catalog.delete_product, tid, product["id"])


# ---- variants ------------------------------------------------------------------------------
async def test_create_variant_with_option_values(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    tid = shop["id"]
    product = await make_product(core, tid)
    size = (await core.call(catalog.create_option, tid, product["id"],
                            {"title": "Size", "values": ["S", "M"]})).value
    color = (await core.call(catalog.create_option, tid, product["id"],
                             {"title": "Color", "values": ["Red"]})).value
    wanted = [size["values"][1]["id"], color["values"][0]["id"]]
    mark = await outbox_mark(pool)
    row = (await core.call(catalog.create_variant, tid, str(ULID.from_uuid(product["id"])), {
        "title": "M / Red", "sku": "SHIRT-M-RED", "weight": 200,
        "option_value_ids": [str(ULID.from_uuid(wanted[0])), str(wanted[1])]})).value
    assert row["product_id"] == product["id"] and row["weight"] == 200
    assert row["manage_inventory"] is True and row["allow_backorder"] is False
    links = await pool.fetch("SELECT option_value_id FROM commerce_variant_options "
                             "WHERE variant_id = $1", row["id"])
    assert {link["option_value_id"] for link in links} == set(wanted)
    assert await events_after(pool, mark) == [
        {"type": "VariantCreated", "product_id": str(product["id"]),
         "variant_id": str(row["id"])}]


async def test_sku_is_unique_per_tenant_only(core: CoreWrite, pool: asyncpg.Pool,
                                             shop: dict[str, Any]) -> None:
    other = await make_tenant(core)
    mine = await make_product(core, shop["id"])
    theirs = await make_product(core, other["id"])
    await make_variant(core, shop["id"], mine["id"], sku="ABC-1")
    await make_variant(core, other["id"], theirs["id"], sku="ABC-1")
    second = await make_variant(core, shop["id"], mine["id"], sku="ABC-2")
    mark = await outbox_mark(pool)
    with pytest.raises(Conflict) as info:
        await make_variant(core, shop["id"], mine["id"], sku="ABC-1")
    assert info.value.field == "sku"
    with pytest.raises(Conflict) as info:
        await core.call(catalog.update_variant, shop["id"], second["id"], {"sku": "ABC-1"})
    assert info.value.field == "sku"
    assert await pool.fetchval("SELECT count(*) FROM commerce_variants") == 3
    assert await events_after(pool, mark) == []


@pytest.mark.parametrize(("data", "field"), [
    ({"title": ""}, "title"),
    ({"title": "v", "sku": "x" * 65}, "sku"),
    ({"title": "v", "weight": -1}, "weight"),
    ({"title": "v", "height": 2**31}, "height"),
    ({"title": "v", "position": -3}, "position"),
    ({"title": "v", "manage_inventory": "sometimes"}, "manage_inventory"),
    ({"title": "v", "option_value_ids": ["not-an-id"]}, "option_value_ids.0"),
    ({"title": "v", "option_value_ids": [str(uuid.uuid4())]}, "option_value_ids"),
    ({"title": "v", "colour": "red"}, "colour"),
])
async def test_bad_variant_input_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], data: dict[str, Any], field: str
) -> None:
    product = await make_product(core, shop["id"])
    mark = await outbox_mark(pool)
    with pytest.raises(ValidationFailed) as info:
        await core.call(catalog.create_variant, shop["id"], product["id"], data)
    assert info.value.field == field
    assert await pool.fetchval("SELECT count(*) FROM commerce_variants") == 0
    assert await events_after(pool, mark) == []


async def test_option_values_must_be_the_products_and_one_per_option(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    tid = shop["id"]
    product, elsewhere = await make_product(core, tid), await make_product(core, tid)
    size = (await core.call(catalog.create_option, tid, product["id"],
                            {"title": "Size", "values": ["S", "M"]})).value
    foreign = (await core.call(catalog.create_option, tid, elsewhere["id"],
                               {"title": "Size", "values": ["L"]})).value
    for values in ([foreign["values"][0]["id"]],
                   [size["values"][0]["id"], size["values"][1]["id"]],
                   [size["values"][0]["id"], size["values"][0]["id"]]):
        with pytest.raises(ValidationFailed) as info:
            await make_variant(core, tid, product["id"], option_value_ids=values)
        assert info.value.field == "option_value_ids"
    assert await pool.fetchval("SELECT count(*) FROM commerce_variants") == 0


async def test_update_variant_reports_changes_and_replaces_values(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    tid = shop["id"]
    product = await make_product(core, tid)
    size = (await core.call(catalog.create_option, tid, product["id"],
                            {"title": "Size", "values": ["S", "M"]})).value
    small, medium = (value["id"] for value in size["values"])
    variant = await make_variant(core, tid, product["id"], option_value_ids=[small])
    mark = await outbox_mark(pool)
    noop = (await core.call(catalog.update_variant, tid, variant["id"],
                            {"title": variant["title"], "option_value_ids": [small]})).value
    assert noop["option_value_ids"] == [small]
    row = (await core.call(catalog.update_variant, tid, variant["id"], {
        "allow_backorder": True, "sku": None, "option_value_ids": [medium]})).value
    assert row["allow_backorder"] is True and row["sku"] is None
    assert row["option_value_ids"] == [medium]
    stored = await pool.fetchval("SELECT option_value_id FROM commerce_variant_options")
    assert stored == medium
    assert await events_after(pool, mark) == [
        {"type": "VariantUpdated", "product_id": str(product["id"]),
         "variant_id": str(variant["id"]),
         "changed": ["allow_backorder", "option_value_ids", "sku"]}]


async def test_delete_variant(core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]) -> None:
    product = await make_product(core, shop["id"])
    variant = await make_variant(core, shop["id"], product["id"])
    await core.call(catalog.set_price, shop["id"], variant["id"], "USD", 100)
    mark = await outbox_mark(pool)
    await core.call(catalog.delete_variant, shop["id"], variant["id"])
    assert await pool.fetchval("SELECT count(*) FROM commerce_prices") == 0
    assert await events_after(pool, mark) == [
        {"type": "VariantDeleted", "product_id": str(product["id"]),
         "variant_id": str(variant["id"])}]


# ---- options -------------------------------------------------------------------------------
async def test_option_lifecycle(core: CoreWrite, pool: asyncpg.Pool,
                                shop: dict[str, Any]) -> None:
    tid = shop["id"]
    product = await make_product(core, tid)
    mark = await outbox_mark(pool)
    option = (await core.call(catalog.create_option, tid, product["id"],
                              {"title": "Size", "values": ["S", "M", "L"]})).value
    ids = {value["value"]: value["id"] for value in option["values"]}
    variant = await make_variant(core, tid, product["id"], option_value_ids=[ids["S"]])
    mark_after_variant = await outbox_mark(pool)
    same = (await core.call(catalog.update_option, tid, option["id"],
                            {"title": "Size", "values": ["S", "M", "L"]})).value
    assert [value["value"] for value in same["values"]] == ["S", "M", "L"]
    assert await events_after(pool, mark_after_variant) == []
    row = (await core.call(catalog.update_option, tid, option["id"],
                           {"values": ["XL", "M", "L"]})).value
    assert [value["value"] for value in row["values"]] == ["XL", "M", "L"]
    kept = {value["value"]: value["id"] for value in row["values"]}
    assert kept["M"] == ids["M"] and kept["L"] == ids["L"] and "S" not in kept
    assert await pool.fetchval("SELECT count(*) FROM commerce_variant_options "
                               "WHERE variant_id = $1", variant["id"]) == 0
    await core.call(catalog.update_option, tid, option["id"], {"title": "Fit"})
    await core.call(catalog.delete_option, tid, option["id"])
    assert await pool.fetchval("SELECT count(*) FROM commerce_option_values") == 0
    pid, oid = str(product["id"]), str(option["id"])
    events = await events_after(pool, mark)
    assert [e["type"] for e in events] == [
        "OptionCreated", "VariantCreated", "OptionUpdated", "OptionUpdated", "OptionDeleted"]
    assert all(e["product_id"] == pid for e in events)
    assert [e.get("option_id") for e in events if e["type"] != "VariantCreated"] == [oid] * 4


@pytest.mark.parametrize(("data", "field"), [
    ({"title": ""}, "title"),
    ({"title": "Size", "values": ["S", "S"]}, "values"),
    ({"title": "Size", "values": [""]}, "values.0"),
    ({"title": "Size", "values": "S,M"}, "values"),
])
async def test_bad_option_input_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], data: dict[str, Any], field: str
) -> None:
    product = await make_product(core, shop["id"])
    with pytest.raises(ValidationFailed) as info:
        await core.call(catalog.create_option, shop["id"], product["id"], data)
    assert info.value.field == field
    assert await pool.fetchval("SELECT count(*) FROM commerce_options") == 0


# ---- prices --------------------------------------------------------------------------------
async def test_set_price_upserts_and_emits_only_on_change(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    tid = shop["id"]
    product = await make_product(core, tid)
    variant = await make_variant(core, tid, product["id"])
    vid, pid = str(variant["id"]), str(product["id"])
    mark = await outbox_mark(pool)
    first = (await core.call(catalog.set_price, tid, variant["id"], "USD", 1000)).value
    again = (await core.call(catalog.set_price, tid, variant["id"], "USD", 1000)).value
    changed = (await core.call(catalog.set_price, tid, variant["id"], "USD", 900)).value
    # a tier (min quantity 10) is a second price; price lists are refused until they exist
    listed = (await core.call(catalog.set_price, tid, variant["id"], "USD", 800,
                              min_quantity=10)).value
    assert first["id"] == again["id"] == changed["id"] != listed["id"]
    assert changed["amount"] == 900 and listed["min_quantity"] == 10
    assert await pool.fetchval("SELECT count(*) FROM commerce_prices") == 2
    assert await events_after(pool, mark) == [
        {"type": "PriceChanged", "product_id": pid, "price_id": str(first["id"]),
         "variant_id": vid, "currency_code": "USD", "old_amount": None, "new_amount": 1000},
        {"type": "PriceChanged", "product_id": pid, "price_id": str(first["id"]),
         "variant_id": vid, "currency_code": "USD", "old_amount": 1000, "new_amount": 900},
        {"type": "PriceChanged", "product_id": pid, "price_id": str(listed["id"]),
         "variant_id": vid, "currency_code": "USD", "old_amount": None, "new_amount": 800}]
    mark = await outbox_mark(pool)
    await core.call(catalog.delete_price, tid, listed["id"])
    assert await events_after(pool, mark) == [
        {"type": "PriceDeleted", "product_id": pid, "price_id": str(listed["id"]),
         "variant_id": vid, "currency_code": "USD"}]


@pytest.mark.parametrize(("args", "field"), [
    (("usd", 100), "currency_code"),
    (("US", 100), "currency_code"),
    (("USD", -1), "amount"),
    (("USD", 100, "nope"), "price_list_id"),
    (("USD", 100, None, 0), "min_quantity"),
])
async def test_bad_price_input_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], args: tuple[Any, ...], field: str
) -> None:
    product = await make_product(core, shop["id"])
    variant = await make_variant(core, shop["id"], product["id"])
    with pytest.raises(ValidationFailed) as info:
        await core.call(catalog.set_price, shop["id"], variant["id"], *args)
    assert info.value.field == field
    assert await pool.fetchval("SELECT count(*) FROM commerce_prices") == 0


@pytest.mark.parametrize("bad_id", ["nope", 42])
async def test_bad_ids_name_the_argument(core: CoreWrite, shop: dict[str, Any],
                                         bad_id: Any) -> None:
    with pytest.raises(ValidationFailed) as info:
        await core.call(catalog.update_product, shop["id"], bad_id, {"title": "x"})
    assert info.value.field == "product_id"
    with pytest.raises(ValidationFailed) as info:
        await core.call(catalog.set_price, shop["id"], bad_id, "USD", 1)
    assert info.value.field == "variant_id"


# ---- isolation, modules, rollback ----------------------------------------------------------
async def test_tenant_cannot_touch_another_tenants_catalog(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    intruder = await make_tenant(core)
    product = await make_product(core, shop["id"])
    variant = await make_variant(core, shop["id"], product["id"])
    option = (await core.call(catalog.create_option, shop["id"], product["id"],
                              {"title": "Size", "values": ["S"]})).value
    price = (await core.call(catalog.set_price, shop["id"], variant["id"], "USD", 10)).value
    before = await pool.fetch("SELECT * FROM commerce_products")
    mark = await outbox_mark(pool)
    iid = intruder["id"]
    attempts: list[tuple[Any, tuple[Any, ...]]] = [
        (catalog.update_product, (product["id"], {"title": "hijacked"})),
        (catalog.publish_product, (product["id"],)),
        (catalog.unpublish_product, (product["id"], "rejected")),
        (catalog.delete_product, (product["id"],)),
        (catalog.create_variant, (product["id"], {"title": "v"})),
        (catalog.update_variant, (variant["id"], {"title": "v"})),
        (catalog.delete_variant, (variant["id"],)),
        (catalog.create_option, (product["id"], {"title": "o"})),
        (catalog.update_option, (option["id"], {"title": "o"})),
        (catalog.delete_option, (option["id"],)),
        (catalog.set_price, (variant["id"], "USD", 1)),
        (catalog.delete_price, (price["id"],)),
    ]
    for service, args in attempts:
        with pytest.raises(TenantMismatch):
            await core.call(service, iid, *args)
    assert await pool.fetch("SELECT * FROM commerce_products") == before
    assert await pool.fetchval("SELECT amount FROM commerce_prices") == 10
    assert await pool.fetchval("SELECT count(*) FROM commerce_variants") == 1
    assert await events_after(pool, mark) == []


async def test_own_variant_cannot_take_option_values_of_another_tenant(
    core: CoreWrite, shop: dict[str, Any]
) -> None:
    other = await make_tenant(core)
    theirs = await make_product(core, other["id"])
    option = (await core.call(catalog.create_option, other["id"], theirs["id"],
                              {"title": "Size", "values": ["S"]})).value
    mine = await make_product(core, shop["id"])
    with pytest.raises(ValidationFailed) as info:
        await make_variant(core, shop["id"], mine["id"],
                           option_value_ids=[option["values"][0]["id"]])
    assert info.value.field == "option_value_ids"


async def test_disabled_commerce_module_refuses_writes(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    product = await make_product(core, shop["id"])
    variant = await make_variant(core, shop["id"], product["id"])
    await core.call(tenants.set_module, shop["id"], "commerce", False)
    mark = await outbox_mark(pool)
    with pytest.raises(ModuleDisabled) as info:
        await make_product(core, shop["id"])
    assert info.value.module == "commerce"
    with pytest.raises(ModuleDisabled):
        await core.call(catalog.set_price, shop["id"], variant["id"], "USD", 1)
    with pytest.raises(ModuleDisabled):
        await core.call(catalog.delete_product, shop["id"], product["id"])
    assert await pool.fetchval("SELECT count(*) FROM commerce_products") == 1
    assert await events_after(pool, mark) == []
    lean = await make_tenant(core, modules=["content"])
    with pytest.raises(ModuleDisabled):
        await make_product(core, lean["id"])


async def test_rolled_back_unit_leaves_no_catalog_row_or_event(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    class Boom(Exception):
        pass

    mark = await outbox_mark(pool)
    with pytest.raises(Boom):
        async with core.unit() as unit:
            product = await catalog.create_product(unit, shop["id"],
                                                   {"title": "x", "handle": "x"})
            await catalog.create_variant(unit, shop["id"], product["id"], {"title": "v"})
            raise Boom
    assert await pool.fetchval("SELECT count(*) FROM commerce_products") == 0
    assert await events_after(pool, mark) == []
