from __future__ import annotations

import asyncpg
import pytest

from core_write.errors import Conflict, NotFound, ValidationFailed
from core_write.services import tenants
from core_write.unit import CoreWrite
from tests.builders import make_node, make_tenant
from tests.conftest import event_types, outbox_events


async def test_create_tenant_writes_row_modules_and_one_event(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    written = await core.call(tenants.create_tenant, {"name": "Acme", "slug": "acme"})
    row = written.value
    assert row["slug"] == "acme" and row["settings"]["language"] == "simple"
    modules = await pool.fetch(
        "SELECT module_slug, enabled FROM tenant_modules WHERE tenant_id = $1 ORDER BY 1", row["id"]
    )
    assert [(m["module_slug"], m["enabled"]) for m in modules] == [
        ("commerce", True), ("content", True)]
    assert await event_types(pool) == ["TenantCreated"]
    assert written.token == await pool.fetchval("SELECT max(seq) FROM outbox")


async def test_duplicate_slug_is_a_conflict_naming_the_field(core: CoreWrite) -> None:
    await make_tenant(core, slug="dup")
    with pytest.raises(Conflict) as info:
        await make_tenant(core, slug="dup")
    assert info.value.field == "slug"


@pytest.mark.parametrize(("data", "field"), [
    ({"name": "", "slug": "ok"}, "name"),
    ({"name": "x", "slug": "Bad Slug"}, "slug"),
    ({"name": "x", "slug": "ok", "settings": {"language": "klingon"}}, "settings.language"),
    ({"name": "x", "slug": "ok", "modules": ["chat"]}, "modules"),
    ({"name": "x", "slug": "ok", "colour": "red"}, "colour"),
])
async def test_bad_tenant_input_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, data: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        await core.call(tenants.create_tenant, data)
    assert info.value.field == field
    assert await pool.fetchval("SELECT count(*) FROM tenants") == 0
    assert await outbox_events(pool) == []


async def test_update_emits_changed_fields_only_when_something_changed(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(core)
    await core.call(tenants.update_tenant, tenant["id"], {"name": tenant["name"]})
    await core.call(tenants.update_tenant, tenant["id"],
                    {"settings": {"language": "english"}})
    events = await outbox_events(pool)
    assert [e["type"] for e in events] == ["TenantCreated", "TenantUpdated"]
    assert events[1]["changed"] == ["settings"]


async def test_module_toggle_and_delete(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    row = (await core.call(tenants.set_module, tenant["id"], "commerce", False)).value
    assert row["enabled"] is False
    await core.call(tenants.delete_tenant, tenant["id"])
    assert await pool.fetchval("SELECT count(*) FROM tenant_modules") == 0
    assert await event_types(pool) == ["TenantCreated", "ModuleToggled", "TenantDeleted"]
    with pytest.raises(NotFound):
        await core.call(tenants.get_tenant, tenant["id"])


async def test_rolled_back_unit_leaves_no_event(core: CoreWrite, pool: asyncpg.Pool) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with core.unit() as unit:
            await tenants.create_tenant(unit, {"name": "x", "slug": "rolled"})
            raise Boom
    assert await pool.fetchval("SELECT count(*) FROM tenants") == 0
    assert await outbox_events(pool) == []


async def test_a_language_change_rebuilds_the_body_vectors(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant, other = await make_tenant(core), await make_tenant(core)
    for owner in (tenant, other):
        await make_node(core, owner["id"], body={"body": "Running shoes", "format": "plain"})

    async def vectors(owner: dict[str, object]) -> list[str]:
        return [r["v"] for r in await pool.fetch(
            "SELECT search_vector::text AS v FROM bodies WHERE tenant_id = $1", owner["id"])]

    assert await vectors(tenant) == ["'running':1 'shoes':2"]  # 'simple': no stemming
    await core.call(tenants.update_tenant, tenant["id"], {"settings": {"language": "english"}})
    assert await vectors(tenant) == ["'run':1 'shoe':2"]
    assert await vectors(other) == ["'running':1 'shoes':2"]  # another tenant is untouched
    await core.call(tenants.update_tenant, tenant["id"], {"name": "renamed"})
    assert await vectors(tenant) == ["'run':1 'shoe':2"]


async def test_in_stock_first_is_on_by_default_and_a_settings_update_keeps_the_rest(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(core)
    await core.call(tenants.update_tenant, tenant["id"], {"settings": {"language": "english"}})
    row = (await core.call(tenants.get_tenant, tenant["id"])).value
    assert row["settings"]["in_stock_first"] is True
    await core.call(tenants.update_tenant, tenant["id"], {"settings": {"in_stock_first": False}})
    row = (await core.call(tenants.get_tenant, tenant["id"])).value
    assert row["settings"]["in_stock_first"] is False
    assert row["settings"]["language"] == "english"  # not reset to the default
    with pytest.raises(ValidationFailed):
        await core.call(tenants.update_tenant, tenant["id"],
                        {"settings": {"in_stock_first": "maybe"}})
