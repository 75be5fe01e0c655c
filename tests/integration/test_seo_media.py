from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from core_write.errors import (
    InvalidId,
    ModuleDisabled,
    NotFound,
    TenantMismatch,
    ValidationFailed,
)
from core_write.ids import new_id
from core_write.services import content, media, seo, tenants, users
from core_write.unit import CoreWrite
from tests.builders import (
    FAST_HASHER,
    events_after,
    make_category,
    make_node,
    make_tenant,
    make_user,
    outbox_mark,
)


@pytest.fixture(autouse=True)
def _fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "hasher", FAST_HASHER)


async def _commerce_row(pool: asyncpg.Pool, table: str, tenant_id: uuid.UUID) -> uuid.UUID:
    """A bare commerce row (the commerce services are not under test here)."""
    row_id = new_id()
    name = "title" if table == "commerce_products" else "name"
    await pool.execute(
        f"INSERT INTO {table} (id, tenant_id, {name}, handle) VALUES ($1, $2, 'X', $3)",
        row_id, tenant_id, f"h-{row_id.hex[:12]}")
    return row_id


def _target_maker(
    core: CoreWrite, pool: asyncpg.Pool, target_type: str
) -> Callable[[uuid.UUID], Awaitable[uuid.UUID]]:
    async def make(tenant_id: uuid.UUID) -> uuid.UUID:
        if target_type == "node":
            return uuid.UUID(str((await make_node(core, tenant_id))["id"]))
        if target_type == "category":
            return uuid.UUID(str((await make_category(core, tenant_id))["id"]))
        table = {"product": "commerce_products",
                 "commerce_category": "commerce_categories"}[target_type]
        return await _commerce_row(pool, table, tenant_id)
    return make


async def _meta(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch("SELECT * FROM meta ORDER BY id")]


# ---- SEO meta ------------------------------------------------------------------------------
@pytest.mark.parametrize("target_type", ["node", "category", "product", "commerce_category"])
async def test_set_meta_upserts_and_emits_only_on_change(
    core: CoreWrite, pool: asyncpg.Pool, target_type: str
) -> None:
    tenant = await make_tenant(core)
    target = await _target_maker(core, pool, target_type)(tenant["id"])
    mark = await outbox_mark(pool)
    row = (await core.call(seo.set_meta, tenant["id"], target_type, str(target), {
        "title": "T", "description": "D", "no_index": True,
        "structured_data": {"@type": "Article"},
    })).value
    assert (row["tenant_id"], row["target_type"], row["target_id"]) == (
        tenant["id"], target_type, target)
    assert (row["title"], row["description"], row["no_index"], row["no_follow"]) == (
        "T", "D", True, False)
    assert row["structured_data"] == {"@type": "Article"}
    same = (await core.call(seo.set_meta, tenant["id"], target_type, target,
                            {"title": "T", "no_index": True})).value
    assert same == row
    partial = (await core.call(seo.set_meta, tenant["id"], target_type, target,
                               {"og_title": "OG", "description": None})).value
    assert (partial["id"], partial["title"], partial["og_title"], partial["description"]) == (
        row["id"], "T", "OG", None)
    assert await _meta(pool) == [partial]
    event = {"type": "MetaUpdated", "target_type": target_type, "target_id": str(target)}
    assert await events_after(pool, mark) == [event, event]

    deleted = (await core.call(seo.delete_meta, tenant["id"], target_type, target)).value
    assert deleted == partial
    assert await _meta(pool) == []
    assert (await events_after(pool, mark))[-1] == {**event, "type": "MetaDeleted"}
    with pytest.raises(NotFound):
        await core.call(seo.delete_meta, tenant["id"], target_type, target)


async def test_deleting_the_target_drops_its_meta(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    node = await make_node(core, tenant["id"])
    await core.call(seo.set_meta, tenant["id"], "node", node["id"], {"title": "T"})
    await core.call(content.delete_node, tenant["id"], node["id"])
    assert await _meta(pool) == []


@pytest.mark.parametrize(("data", "field"), [
    ({"title": "x" * 256}, "title"),
    ({"description": "x" * 501}, "description"),
    ({"og_type": "x" * 33}, "og_type"),
    ({"canonical_url": "x" * 501}, "canonical_url"),
    ({"no_index": "maybe"}, "no_index"),
    ({"no_follow": None}, "no_follow"),
    ({"structured_data": [1, 2]}, "structured_data"),
    ({"robots": "noindex"}, "robots"),
])
async def test_bad_meta_input_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, data: dict[str, object], field: str
) -> None:
    tenant = await make_tenant(core)
    node = await make_node(core, tenant["id"])
    mark = await outbox_mark(pool)
    with pytest.raises(ValidationFailed) as info:
        await core.call(seo.set_meta, tenant["id"], "node", node["id"], data)
    assert info.value.field == field
    assert await _meta(pool) == []
    assert await events_after(pool, mark) == []


async def test_bad_meta_target_names_the_field(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    node = await make_node(core, tenant["id"])
    with pytest.raises(ValidationFailed) as info:
        await core.call(seo.set_meta, tenant["id"], "page", node["id"], {"title": "T"})
    assert info.value.field == "target_type"
    with pytest.raises(InvalidId) as bad_id:
        await core.call(seo.set_meta, tenant["id"], "node", "not-an-id", {"title": "T"})
    assert bad_id.value.field == "target_id"
    with pytest.raises(NotFound):
        await core.call(seo.set_meta, tenant["id"], "product", uuid.uuid4(), {"title": "T"})
    assert await _meta(pool) == []


@pytest.mark.parametrize("target_type", ["node", "category", "product", "commerce_category"])
async def test_tenant_a_cannot_touch_tenant_b_meta(
    core: CoreWrite, pool: asyncpg.Pool, target_type: str
) -> None:
    a, b = await make_tenant(core), await make_tenant(core)
    theirs = await _target_maker(core, pool, target_type)(b["id"])
    await core.call(seo.set_meta, b["id"], target_type, theirs, {"title": "theirs"})
    before = await _meta(pool)
    mark = await outbox_mark(pool)
    with pytest.raises(TenantMismatch):
        await core.call(seo.set_meta, a["id"], target_type, theirs, {"title": "hacked"})
    with pytest.raises(TenantMismatch):
        await core.call(seo.delete_meta, a["id"], target_type, theirs)
    assert await _meta(pool) == before
    assert await events_after(pool, mark) == []


@pytest.mark.parametrize(("target_type", "module"), [
    ("node", "content"), ("category", "content"),
    ("product", "commerce"), ("commerce_category", "commerce"),
])
async def test_meta_needs_the_module_of_its_target(
    core: CoreWrite, pool: asyncpg.Pool, target_type: str, module: str
) -> None:
    tenant = await make_tenant(core)
    target = await _target_maker(core, pool, target_type)(tenant["id"])
    await core.call(tenants.set_module, tenant["id"], module, False)
    mark = await outbox_mark(pool)
    calls: list[tuple[Any, ...]] = [(seo.set_meta, target_type, target, {"title": "T"}),
                                    (seo.delete_meta, target_type, target)]
    for service, *args in calls:
        with pytest.raises(ModuleDisabled) as info:
            await core.call(service, tenant["id"], *args)
        assert info.value.module == module
    assert await _meta(pool) == []
    assert await events_after(pool, mark) == []


# ---- media ---------------------------------------------------------------------------------
def _upload(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"filename": "a1b2.png", "original_name": "Cat photo.PNG",
                            "mime_type": "image/png", "size": 2048,
                            "storage_path": "tenants/x/a1b2.png"}
    data.update(overrides)
    return data


async def _media(pool: asyncpg.Pool, media_id: uuid.UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM media WHERE id = $1", media_id)
    return dict(row) if row is not None else None


async def test_media_create_update_delete(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    uploader = await make_user(core, tenant["id"])
    mark = await outbox_mark(pool)
    row = (await core.call(media.create_media, tenant["id"], _upload(
        mime_type="Image/PNG", width=640, height=480, alt_text="A cat",
        uploaded_by=str(uploader["id"]), metadata={"exif": {"iso": 100}},
    ))).value
    assert await _media(pool, row["id"]) == row
    assert (row["mime_type"], row["size"], row["width"], row["height"]) == (
        "image/png", 2048, 640, 480)
    assert (row["uploaded_by"], row["storage_driver"], row["alt_text"]) == (
        uploader["id"], "local", "A cat")
    assert row["metadata"] == {"exif": {"iso": 100}}
    same = (await core.call(media.update_media, tenant["id"], row["id"],
                            {"alt_text": "A cat", "width": 640})).value
    assert same == row
    updated = (await core.call(media.update_media, tenant["id"], row["id"],
                               {"alt_text": None, "height": 500})).value
    assert (updated["alt_text"], updated["height"], updated["width"]) == (None, 500, 640)
    deleted = (await core.call(media.delete_media, tenant["id"], row["id"])).value
    assert deleted == updated
    assert await _media(pool, row["id"]) is None
    media_id = str(row["id"])
    assert await events_after(pool, mark) == [
        {"type": "MediaCreated", "media_id": media_id},
        {"type": "MediaUpdated", "media_id": media_id},
        {"type": "MediaDeleted", "media_id": media_id},
    ]
    with pytest.raises(NotFound):
        await core.call(media.delete_media, tenant["id"], row["id"])


@pytest.mark.parametrize(("overrides", "field"), [
    ({"mime_type": "png"}, "mime_type"),
    ({"mime_type": "image/png; charset=x"}, "mime_type"),
    ({"mime_type": "image/" + "x" * 100}, "mime_type"),
    ({"size": -1}, "size"),
    ({"size": "big"}, "size"),
    ({"size": None}, "size"),
    ({"width": 0}, "width"),
    ({"height": -5}, "height"),
    ({"width": 2**31}, "width"),
    ({"filename": ""}, "filename"),
    ({"filename": "x" * 256}, "filename"),
    ({"original_name": None}, "original_name"),
    ({"storage_path": ""}, "storage_path"),
    ({"storage_driver": "x" * 33}, "storage_driver"),
    ({"alt_text": "x" * 256}, "alt_text"),
    ({"metadata": "x"}, "metadata"),
    ({"uploaded_by": "someone"}, "uploaded_by"),
    ({"created_at": "2024-01-01"}, "created_at"),
])
async def test_bad_media_input_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, overrides: dict[str, object], field: str
) -> None:
    tenant = await make_tenant(core)
    mark = await outbox_mark(pool)
    with pytest.raises(ValidationFailed) as info:
        await core.call(media.create_media, tenant["id"], _upload(**overrides))
    assert info.value.field == field
    assert await pool.fetchval("SELECT count(*) FROM media") == 0
    assert await events_after(pool, mark) == []


@pytest.mark.parametrize(("data", "field"), [
    ({"width": 0}, "width"),
    ({"size": -3}, "size"),
    ({"mime_type": "nope"}, "mime_type"),
    ({"uploaded_by": str(uuid.uuid4())}, "uploaded_by"),
    ({"filename": None}, "filename"),
])
async def test_bad_media_update_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, data: dict[str, object], field: str
) -> None:
    tenant = await make_tenant(core)
    row = (await core.call(media.create_media, tenant["id"], _upload())).value
    mark = await outbox_mark(pool)
    with pytest.raises(ValidationFailed) as info:
        await core.call(media.update_media, tenant["id"], row["id"], data)
    assert info.value.field == field
    assert await _media(pool, row["id"]) == row
    assert await events_after(pool, mark) == []


async def test_uploader_must_be_a_user_of_the_tenant(core: CoreWrite, pool: asyncpg.Pool) -> None:
    a, b = await make_tenant(core), await make_tenant(core)
    stranger = await make_user(core, b["id"])
    mark = await outbox_mark(pool)
    with pytest.raises(TenantMismatch):
        await core.call(media.create_media, a["id"], _upload(uploaded_by=stranger["id"]))
    with pytest.raises(NotFound):
        await core.call(media.create_media, a["id"], _upload(uploaded_by=uuid.uuid4()))
    assert await pool.fetchval("SELECT count(*) FROM media") == 0
    assert await events_after(pool, mark) == []


async def test_deleting_the_uploader_keeps_the_media(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    uploader = await make_user(core, tenant["id"])
    row = (await core.call(media.create_media, tenant["id"],
                           _upload(uploaded_by=uploader["id"]))).value
    await core.call(users.delete_user, tenant["id"], uploader["id"])
    stored = await _media(pool, row["id"])
    assert stored is not None and stored["uploaded_by"] is None


async def test_tenant_a_cannot_touch_tenant_b_media(core: CoreWrite, pool: asyncpg.Pool) -> None:
    a, b = await make_tenant(core), await make_tenant(core)
    theirs = (await core.call(media.create_media, b["id"], _upload())).value
    mark = await outbox_mark(pool)
    with pytest.raises(TenantMismatch):
        await core.call(media.update_media, a["id"], theirs["id"], {"alt_text": "hacked"})
    with pytest.raises(TenantMismatch):
        await core.call(media.delete_media, a["id"], theirs["id"])
    with pytest.raises(InvalidId) as info:
        await core.call(media.delete_media, a["id"], "bogus")
    assert info.value.field == "media_id"
    assert await _media(pool, theirs["id"]) == theirs
    assert await events_after(pool, mark) == []
