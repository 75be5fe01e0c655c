from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from core_write.errors import (
    Conflict,
    InvalidId,
    ModuleDisabled,
    NotFound,
    TenantMismatch,
    ValidationFailed,
)
from core_write.ids import new_id
from core_write.services import taxonomy, tenants
from core_write.unit import CoreWrite
from tests.builders import (
    events_after,
    make_category,
    make_node,
    make_tag,
    make_tenant,
    outbox_mark,
)


async def _row(pool: asyncpg.Pool, table: str, entity_id: uuid.UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow(f"SELECT * FROM {table} WHERE id = $1", entity_id)
    return dict(row) if row is not None else None


async def _use_count(pool: asyncpg.Pool, tag_id: uuid.UUID) -> int:
    return int(await pool.fetchval("SELECT use_count FROM tags WHERE id = $1", tag_id))


async def _product(pool: asyncpg.Pool, tenant_id: uuid.UUID) -> uuid.UUID:
    """A bare product row (the catalog service is not under test here)."""
    product_id = new_id()
    await pool.execute(
        "INSERT INTO commerce_products (id, tenant_id, title, handle) VALUES ($1, $2, 'P', $3)",
        product_id, tenant_id, f"p-{product_id.hex[:8]}")
    return product_id


# ---- categories ----------------------------------------------------------------------------
async def test_create_category_tree_with_derived_slug(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    mark = await outbox_mark(pool)
    top = (await core.call(taxonomy.create_category, tenant["id"], {
        "name": "Rust & Go!", "description": "Systems", "position": 2, "settings": {"x": 1},
    })).value
    child = await make_category(core, tenant["id"], name="Async", slug="async-rust",
                                parent_id=str(top["id"]))
    assert (top["slug"], top["depth"], top["parent_id"], top["position"]) == (
        "rust-go", 0, None, 2)
    assert (top["description"], top["settings"], top["node_count"]) == ("Systems", {"x": 1}, 0)
    assert (child["slug"], child["depth"], child["parent_id"]) == ("async-rust", 1, top["id"])
    assert await _row(pool, "categories", top["id"]) == top
    assert await events_after(pool, mark) == [
        {"type": "CategoryCreated", "category_id": str(top["id"])},
        {"type": "CategoryCreated", "category_id": str(child["id"])},
    ]


async def test_category_slug_is_unique_per_tenant(core: CoreWrite, pool: asyncpg.Pool) -> None:
    a, b = await make_tenant(core), await make_tenant(core)
    first = await make_category(core, a["id"], name="News")
    with pytest.raises(Conflict) as info:
        await make_category(core, a["id"], name="NEWS")
    assert info.value.field == "slug"
    other = await make_category(core, a["id"], name="Other")
    with pytest.raises(Conflict) as info:
        await core.call(taxonomy.update_category, a["id"], other["id"], {"slug": "news"})
    assert info.value.field == "slug"
    theirs = await make_category(core, b["id"], name="News")
    assert first["slug"] == theirs["slug"] == "news"


@pytest.mark.parametrize(("data", "field"), [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 256}, "name"),
    ({"name": "!!!"}, "slug"),
    ({"name": "ok", "slug": "Not OK"}, "slug"),
    ({"name": "ok", "slug": "a" * 256}, "slug"),
    ({"name": "ok", "parent_id": "nope"}, "parent_id"),
    ({"name": "ok", "position": "first"}, "position"),
    ({"name": "ok", "settings": "x"}, "settings"),
    ({"name": "ok", "node_count": 3}, "node_count"),
])
async def test_bad_category_input_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, data: dict[str, object], field: str
) -> None:
    tenant = await make_tenant(core)
    mark = await outbox_mark(pool)
    with pytest.raises(ValidationFailed) as info:
        await core.call(taxonomy.create_category, tenant["id"], data)
    assert info.value.field == field
    assert await pool.fetchval("SELECT count(*) FROM categories") == 0
    assert await events_after(pool, mark) == []


async def test_update_category_renames_and_moves_with_depths(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(core)
    top = await make_category(core, tenant["id"], name="Top")
    mid = await make_category(core, tenant["id"], name="Mid", parent_id=top["id"])
    leaf = await make_category(core, tenant["id"], name="Leaf", parent_id=mid["id"])
    other = await make_category(core, tenant["id"], name="Other")
    mark = await outbox_mark(pool)
    same = (await core.call(taxonomy.update_category, tenant["id"], mid["id"],
                            {"name": "Mid", "parent_id": top["id"]})).value
    assert same == mid
    renamed = (await core.call(taxonomy.update_category, tenant["id"], mid["id"],
                               {"name": "Middle", "slug": "middle"})).value
    assert (renamed["name"], renamed["slug"]) == ("Middle", "middle")
    moved = (await core.call(taxonomy.update_category, tenant["id"], mid["id"],
                             {"parent_id": other["id"]})).value
    assert (moved["parent_id"], moved["depth"]) == (other["id"], 1)
    await core.call(taxonomy.update_category, tenant["id"], other["id"], {"parent_id": top["id"]})
    depths = {r["id"]: r["depth"] for r in await pool.fetch("SELECT id, depth FROM categories")}
    assert depths == {top["id"]: 0, other["id"]: 1, mid["id"]: 2, leaf["id"]: 3}
    assert await events_after(pool, mark) == [
        {"type": "CategoryUpdated", "category_id": str(mid["id"]), "changed": ["name", "slug"]},
        {"type": "CategoryUpdated", "category_id": str(mid["id"]), "changed": ["parent_id"]},
        {"type": "CategoryUpdated", "category_id": str(other["id"]), "changed": ["parent_id"]},
    ]


@pytest.mark.parametrize("target", ["self", "child", "grandchild"])
async def test_category_cycles_are_refused(
    core: CoreWrite, pool: asyncpg.Pool, target: str
) -> None:
    tenant = await make_tenant(core)
    top = await make_category(core, tenant["id"])
    child = await make_category(core, tenant["id"], parent_id=top["id"])
    grandchild = await make_category(core, tenant["id"], parent_id=child["id"])
    new_parent = {"self": top, "child": child, "grandchild": grandchild}[target]
    mark = await outbox_mark(pool)
    with pytest.raises(Conflict) as info:
        await core.call(taxonomy.update_category, tenant["id"], top["id"],
                        {"parent_id": new_parent["id"]})
    assert info.value.field == "parent_id"
    assert await _row(pool, "categories", top["id"]) == top
    assert await events_after(pool, mark) == []


async def test_delete_category_subtree_uncategorizes_its_nodes(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(core)
    top = await make_category(core, tenant["id"])
    child = await make_category(core, tenant["id"], parent_id=top["id"])
    grandchild = await make_category(core, tenant["id"], parent_id=child["id"])
    keep = await make_category(core, tenant["id"])
    post = await make_node(core, tenant["id"], category_id=grandchild["id"])
    page = await make_node(core, tenant["id"], kind="page", category_id=keep["id"])
    mark = await outbox_mark(pool)
    row = (await core.call(taxonomy.delete_category, tenant["id"], top["id"])).value
    assert row["id"] == top["id"]
    assert await events_after(pool, mark) == [
        {"type": "CategoryDeleted", "category_id": str(c["id"])}
        for c in (top, child, grandchild)]
    assert [r["id"] for r in await pool.fetch("SELECT id FROM categories")] == [keep["id"]]
    stored_post = await _row(pool, "nodes", post["id"])
    assert stored_post is not None and stored_post["category_id"] is None
    stored_page = await _row(pool, "nodes", page["id"])
    assert stored_page is not None and stored_page["category_id"] == keep["id"]
    assert (await _row(pool, "categories", keep["id"]) or {})["node_count"] == 1
    with pytest.raises(NotFound):
        await core.call(taxonomy.delete_category, tenant["id"], top["id"])


async def test_tenant_a_cannot_touch_tenant_b_categories(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    a, b = await make_tenant(core), await make_tenant(core)
    mine = await make_category(core, a["id"])
    theirs = await make_category(core, b["id"])
    mark = await outbox_mark(pool)
    calls: list[tuple[Any, ...]] = [
        (taxonomy.update_category, a["id"], theirs["id"], {"name": "hacked"}),
        (taxonomy.update_category, a["id"], mine["id"], {"parent_id": theirs["id"]}),
        (taxonomy.delete_category, a["id"], theirs["id"]),
    ]
    for service, *args in calls:
        with pytest.raises(TenantMismatch):
            await core.call(service, *args)
    with pytest.raises(TenantMismatch):
        await make_category(core, a["id"], parent_id=theirs["id"])
    assert await _row(pool, "categories", theirs["id"]) == theirs
    assert await _row(pool, "categories", mine["id"]) == mine
    assert await pool.fetchval("SELECT count(*) FROM categories") == 2
    assert await events_after(pool, mark) == []


# ---- tags ----------------------------------------------------------------------------------
async def test_tag_create_rename_delete(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    mark = await outbox_mark(pool)
    tag = await make_tag(core, tenant["id"], name="Rust & Go")
    assert (tag["name"], tag["slug"], tag["use_count"]) == ("Rust & Go", "rust-go", 0)
    explicit = await make_tag(core, tenant["id"], name="Python", slug="py")
    assert explicit["slug"] == "py"
    await core.call(taxonomy.update_tag, tenant["id"], tag["id"], {"name": "Rust & Go"})
    renamed = (await core.call(taxonomy.update_tag, tenant["id"], tag["id"],
                               {"name": "Rust and Go"})).value
    assert (renamed["name"], renamed["slug"]) == ("Rust and Go", "rust-go")
    await core.call(taxonomy.delete_tag, tenant["id"], tag["id"])
    assert await _row(pool, "tags", tag["id"]) is None
    assert await events_after(pool, mark) == [
        {"type": "TagCreated", "tag_id": str(tag["id"])},
        {"type": "TagCreated", "tag_id": str(explicit["id"])},
        {"type": "TagUpdated", "tag_id": str(tag["id"]), "changed": ["name"]},
        {"type": "TagDeleted", "tag_id": str(tag["id"])},
    ]
    with pytest.raises(Conflict) as info:
        await make_tag(core, tenant["id"], name="PY")
    assert info.value.field == "slug"


@pytest.mark.parametrize(("data", "field"), [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "???"}, "slug"),
    ({"name": "ok", "slug": "a" * 101}, "slug"),
    ({"name": "ok", "slug": "under_score"}, "slug"),
    ({"name": "ok", "use_count": 9}, "use_count"),
])
async def test_bad_tag_input_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, data: dict[str, object], field: str
) -> None:
    tenant = await make_tenant(core)
    mark = await outbox_mark(pool)
    with pytest.raises(ValidationFailed) as info:
        await core.call(taxonomy.create_tag, tenant["id"], data)
    assert info.value.field == field
    assert await pool.fetchval("SELECT count(*) FROM tags") == 0
    assert await events_after(pool, mark) == []


async def test_multi_row_link_statements_count_each_link_once(
    core: CoreWrite, pool: asyncpg.Pool,
) -> None:
    """The counter triggers run per statement (migration 0022): a statement linking or
    unlinking many targets moves each tag's count by its number of links."""
    tenant = await make_tenant(core)
    first, second, idle = [await make_tag(core, tenant["id"]) for _ in range(3)]
    targets = [new_id() for _ in range(5)]
    await pool.execute(
        """INSERT INTO taggables (tenant_id, tag_id, target_type, target_id)
           SELECT $1, u.tag_id, 'product', u.target_id FROM unnest($2::uuid[], $3::uuid[])
               AS u(tag_id, target_id)
           ON CONFLICT DO NOTHING""",
        tenant["id"], [first["id"]] * 5 + [second["id"]] * 2 + [first["id"]],
        targets + targets[:2] + targets[:1])  # the last pair exists: not counted again
    assert [await _use_count(pool, t["id"]) for t in (first, second, idle)] == [5, 2, 0]
    deleted = await pool.execute(
        "DELETE FROM taggables WHERE tenant_id = $1 AND target_id = ANY($2::uuid[])",
        tenant["id"], targets[:3])
    assert deleted == "DELETE 5"
    assert [await _use_count(pool, t["id"]) for t in (first, second, idle)] == [2, 0, 0]
    await pool.execute("DELETE FROM taggables WHERE tag_id = $1", second["id"])  # none left
    await pool.execute("DELETE FROM tags WHERE id = $1", first["id"])  # its links by cascade
    assert await pool.fetchval("SELECT count(*) FROM taggables WHERE tenant_id = $1",
                               tenant["id"]) == 0
    assert await _use_count(pool, second["id"]) == 0


async def test_attach_and_detach_keep_use_count(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    tag = await make_tag(core, tenant["id"])
    node = await make_node(core, tenant["id"])
    product_id = await _product(pool, tenant["id"])
    mark = await outbox_mark(pool)
    link = (await core.call(taxonomy.attach_tag, tenant["id"], tag["id"], "node",
                            str(node["id"]))).value
    assert (link["tenant_id"], link["tag_id"], link["target_type"], link["target_id"]) == (
        tenant["id"], tag["id"], "node", node["id"])
    again = (await core.call(taxonomy.attach_tag, tenant["id"], tag["id"], "node",
                             node["id"])).value
    assert again == link  # attaching twice is a no-op
    await core.call(taxonomy.attach_tag, tenant["id"], tag["id"], "product", product_id)
    assert await _use_count(pool, tag["id"]) == 2
    detached = (await core.call(taxonomy.detach_tag, tenant["id"], tag["id"], "node",
                                node["id"])).value
    assert detached == link
    assert await _use_count(pool, tag["id"]) == 1
    with pytest.raises(NotFound):
        await core.call(taxonomy.detach_tag, tenant["id"], tag["id"], "node", node["id"])
    await pool.execute("DELETE FROM commerce_products WHERE id = $1", product_id)
    assert await _use_count(pool, tag["id"]) == 0  # the delete trigger drops the link
    events = await events_after(pool, mark)
    # the plain-SQL delete is captured (migration 0013): the product and its tag link
    assert [(e["table"], e["op"]) for e in events if e["type"] == "RowChanged"] == [
        ("taggables", "delete"), ("commerce_products", "delete")]
    assert [e for e in events if e["type"] != "RowChanged"] == [
        {"type": "TagAttached", "tag_id": str(tag["id"]), "target_type": "node",
         "target_id": str(node["id"])},
        {"type": "TagAttached", "tag_id": str(tag["id"]), "target_type": "product",
         "target_id": str(product_id)},
        {"type": "TagDetached", "tag_id": str(tag["id"]), "target_type": "node",
         "target_id": str(node["id"])},
    ]


async def test_deleting_a_tag_drops_its_links(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    tag = await make_tag(core, tenant["id"])
    node = await make_node(core, tenant["id"])
    await core.call(taxonomy.attach_tag, tenant["id"], tag["id"], "node", node["id"])
    await core.call(taxonomy.delete_tag, tenant["id"], tag["id"])
    assert await pool.fetchval("SELECT count(*) FROM taggables") == 0
    assert await _row(pool, "nodes", node["id"]) is not None


@pytest.mark.parametrize(("target_type", "target_id", "field", "error"), [
    ("page", None, "target_type", ValidationFailed),
    ("node", "nope", "target_id", InvalidId),
])
async def test_bad_tag_target_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, target_type: str, target_id: str | None, field: str,
    error: type[Exception],
) -> None:
    tenant = await make_tenant(core)
    tag = await make_tag(core, tenant["id"])
    node = await make_node(core, tenant["id"])
    for service in (taxonomy.attach_tag, taxonomy.detach_tag):
        with pytest.raises(error) as info:
            await core.call(service, tenant["id"], tag["id"], target_type,
                            target_id or node["id"])
        assert isinstance(info.value, ValidationFailed) and info.value.field == field
    with pytest.raises(InvalidId) as bad_tag:
        await core.call(taxonomy.attach_tag, tenant["id"], "x", "node", node["id"])
    assert bad_tag.value.field == "tag_id"
    assert await pool.fetchval("SELECT count(*) FROM taggables") == 0


async def test_missing_tag_target_is_not_found(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    tag = await make_tag(core, tenant["id"])
    for target_type in ("node", "product"):
        with pytest.raises(NotFound) as info:
            await core.call(taxonomy.attach_tag, tenant["id"], tag["id"], target_type,
                            uuid.uuid4())
        assert info.value.entity == target_type
    assert await pool.fetchval("SELECT count(*) FROM taggables") == 0


async def test_tenant_a_cannot_touch_tenant_b_tags(core: CoreWrite, pool: asyncpg.Pool) -> None:
    a, b = await make_tenant(core), await make_tenant(core)
    my_tag, my_node = await make_tag(core, a["id"]), await make_node(core, a["id"])
    their_tag, their_node = await make_tag(core, b["id"]), await make_node(core, b["id"])
    their_product = await _product(pool, b["id"])
    await core.call(taxonomy.attach_tag, b["id"], their_tag["id"], "node", their_node["id"])
    mark = await outbox_mark(pool)
    calls: list[tuple[Any, ...]] = [
        (taxonomy.update_tag, a["id"], their_tag["id"], {"name": "hacked"}),
        (taxonomy.delete_tag, a["id"], their_tag["id"]),
        (taxonomy.attach_tag, a["id"], their_tag["id"], "node", my_node["id"]),
        (taxonomy.attach_tag, a["id"], my_tag["id"], "node", their_node["id"]),
        (taxonomy.attach_tag, a["id"], my_tag["id"], "product", their_product),
        (taxonomy.detach_tag, a["id"], their_tag["id"], "node", their_node["id"]),
    ]
    for service, *args in calls:
        with pytest.raises(TenantMismatch):
            await core.call(service, *args)
    assert await _row(pool, "tags", their_tag["id"]) == {**their_tag, "use_count": 1}
    assert await pool.fetchval("SELECT count(*) FROM taggables") == 1
    assert await _use_count(pool, my_tag["id"]) == 0
    assert await events_after(pool, mark) == []


async def test_module_toggles_guard_the_tag_targets(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    tag = await make_tag(core, tenant["id"])
    node = await make_node(core, tenant["id"])
    product_id = await _product(pool, tenant["id"])
    await core.call(tenants.set_module, tenant["id"], "content", False)
    await core.call(tenants.set_module, tenant["id"], "commerce", False)
    mark = await outbox_mark(pool)
    for target_type, target_id, module in [("node", node["id"], "content"),
                                           ("product", product_id, "commerce")]:
        with pytest.raises(ModuleDisabled) as info:
            await core.call(taxonomy.attach_tag, tenant["id"], tag["id"], target_type,
                            target_id)
        assert info.value.module == module
    # tags themselves are shared by both modules and need neither
    renamed = (await core.call(taxonomy.update_tag, tenant["id"], tag["id"],
                               {"name": "Still works"})).value
    assert renamed["name"] == "Still works"
    assert [e["type"] for e in await events_after(pool, mark)] == ["TagUpdated"]
    assert await pool.fetchval("SELECT count(*) FROM taggables") == 0
