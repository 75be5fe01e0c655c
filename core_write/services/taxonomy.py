"""Content categories (a tree), tags and their links to nodes and products, plus the tree
helpers that categories and nodes share: cycle checks, subtree locking and depth shifts
(I/O: the unit's connection).

`use_count` of a tag and `node_count` of a category are kept by triggers of the schema, so
cascaded deletes keep them right too; nothing here maintains them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from core_write import events as ev
from core_write.errors import Conflict, NotFound, ValidationFailed
from core_write.ids import new_id, parse_id
from core_write.queries import QUERIES
from core_write.rows import Table, changed_fields, delete, fetch_owned, insert, update
from core_write.unit import Unit, write_service
from core_write.validate import (
    INT_MAX,
    INT_MIN,
    TAG_SLUG_MAX,
    Description,
    Id,
    JsonObject,
    Slug,
    TagSlug,
    parse_input,
    slugify,
)

CATEGORIES = Table("categories", "category")
TAGS = Table("tags", "tag")
TAG_TARGETS: dict[str, tuple[Table, str]] = {
    "node": (Table("nodes", "node"), "content"),
    "product": (Table("commerce_products", "product"), "commerce"),
}
"""target_type → (table, module that must be enabled to tag it)."""


# ---- trees (categories and nodes) ----------------------------------------------------------
async def lock_tree(conn: asyncpg.Connection, table: Table, tenant_id: uuid.UUID) -> None:
    """Serialize moves and subtree deletes of one tenant's tree: two concurrent moves could
    each pass the cycle check and together make a cycle."""
    await conn.execute(QUERIES["tree_lock"],
                       f"{table.name}:{tenant_id}")


async def is_ancestor_or_self(
    conn: asyncpg.Connection, table: Table, tenant_id: uuid.UUID,
    ancestor_id: uuid.UUID, node_id: uuid.UUID,
) -> bool:
    """Whether `ancestor_id` is `node_id` or one of its ancestors."""
    found = await conn.fetchval(
        f"""WITH RECURSIVE up AS (
                SELECT id, parent_id FROM {table.name} WHERE tenant_id = $1 AND id = $2
                UNION
                SELECT t.id, t.parent_id FROM {table.name} t
                  JOIN up ON t.tenant_id = $1 AND t.id = up.parent_id)
            SELECT EXISTS (SELECT 1 FROM up WHERE id = $3)""",
        tenant_id, node_id, ancestor_id,
    )
    return bool(found)


async def locked_subtree(
    conn: asyncpg.Connection, table: Table, tenant_id: uuid.UUID, root_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The rows of the subtree under `root_id` (itself first, then by level), all locked.

    A child inserted concurrently under a node we have not locked yet would escape a single
    read (and be cascade-deleted without its event, or keep a stale depth); so read, lock what
    is new, and read again until a read finds nothing unlocked. Once every row is locked no
    child can be added under it (the insert's foreign-key check needs a conflicting lock).
    """
    collect = f"""WITH RECURSIVE subtree AS (
            SELECT id, 0 AS level FROM {table.name} WHERE tenant_id = $1 AND id = $2
            UNION ALL
            SELECT t.id, s.level + 1 FROM {table.name} t
              JOIN subtree s ON t.tenant_id = $1 AND t.parent_id = s.id)
        SELECT id, level FROM subtree"""
    locked: set[uuid.UUID] = set()
    while True:
        levels = {row["id"]: row["level"] for row in await conn.fetch(collect, tenant_id, root_id)}
        fresh = set(levels) - locked
        if not fresh:
            break
        await conn.execute(
            f"SELECT 1 FROM {table.name} WHERE tenant_id = $1 AND id = ANY($2::uuid[]) "
            "ORDER BY id FOR UPDATE", tenant_id, sorted(fresh))
        locked |= fresh
    rows = await conn.fetch(
        f"SELECT * FROM {table.name} WHERE tenant_id = $1 AND id = ANY($2::uuid[])",
        tenant_id, list(levels))
    return sorted((dict(row) for row in rows), key=lambda row: (levels[row["id"]], row["id"]))


async def shift_depth(
    conn: asyncpg.Connection, table: Table, tenant_id: uuid.UUID,
    ids: list[uuid.UUID], delta: int,
) -> None:
    if ids and delta:
        await conn.execute(
            f"UPDATE {table.name} SET depth = depth + $3 "
            "WHERE tenant_id = $1 AND id = ANY($2::uuid[])", tenant_id, ids, delta)


async def move_in_tree(
    unit: Unit, table: Table, tenant_id: uuid.UUID, current: Mapping[str, Any],
    parent_id: uuid.UUID | None,
) -> int:
    """Check a move of `current` under `parent_id` (same tenant, no cycle), shift the depth of
    its descendants and return its own new depth. The caller holds `lock_tree`."""
    depth = 0
    if parent_id is not None:
        parent = await fetch_owned(unit.conn, table, tenant_id, parent_id, lock=True)
        if await is_ancestor_or_self(unit.conn, table, tenant_id, current["id"], parent_id):
            raise Conflict(f"{table.entity} {parent_id} is {current['id']} or one of its "
                           "descendants: the move would make a cycle", field="parent_id")
        depth = parent["depth"] + 1
    subtree = await locked_subtree(unit.conn, table, tenant_id, current["id"])
    await shift_depth(unit.conn, table, tenant_id, [row["id"] for row in subtree[1:]],
                      depth - current["depth"])
    return depth


# ---- categories ----------------------------------------------------------------------------
class CategoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    slug: Slug | None = None
    """Derived from the name when not given."""
    description: Description | None = None
    parent_id: Id | None = None
    position: int = Field(default=0, ge=INT_MIN, le=INT_MAX)
    settings: JsonObject = Field(default_factory=dict)



class CategoryUpdate(BaseModel):
    """Only the fields given change; `description` and `parent_id` may be set to null."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", min_length=1, max_length=255)
    slug: Slug = ""
    description: Description | None = None
    parent_id: Id | None = None
    position: int = Field(default=0, ge=INT_MIN, le=INT_MAX)
    settings: JsonObject = Field(default_factory=dict)



def _derived_slug(name: str, limit: int) -> str:
    slug = slugify(name, limit)
    if not slug:
        raise ValidationFailed("slug", "cannot be derived from the name; give one")
    return slug


@write_service("content")
async def create_category(
    unit: Unit, tenant_id: uuid.UUID, data: CategoryCreate | Mapping[str, Any]
) -> dict[str, Any]:
    """A content category; a slug taken in the tenant is a `Conflict` naming `slug`."""
    spec = parse_input(CategoryCreate, data)
    depth = 0
    if spec.parent_id is not None:
        parent = await fetch_owned(unit.conn, CATEGORIES, tenant_id, spec.parent_id, lock=True)
        depth = parent["depth"] + 1
    row = await insert(unit.conn, CATEGORIES, {
        "id": new_id(), "tenant_id": tenant_id, "parent_id": spec.parent_id,
        "name": spec.name, "slug": spec.slug or _derived_slug(spec.name, 255),
        "description": spec.description, "position": spec.position, "depth": depth,
        "settings": spec.settings,
    })
    unit.emit(tenant_id, ev.CategoryCreated(category_id=row["id"]))
    return row


@write_service("content")
async def update_category(
    unit: Unit, tenant_id: uuid.UUID, category_id: uuid.UUID | str,
    data: CategoryUpdate | Mapping[str, Any],
) -> dict[str, Any]:
    """Rename, move (no cycles; descendants' depths follow) or edit a category."""
    spec = parse_input(CategoryUpdate, data)
    category_id = parse_id(category_id, "category_id")
    moving = "parent_id" in spec.model_fields_set
    if moving:
        await lock_tree(unit.conn, CATEGORIES, tenant_id)
    current = await fetch_owned(unit.conn, CATEGORIES, tenant_id, category_id, lock=True)
    changes = changed_fields(current, spec.model_dump(include=spec.model_fields_set))
    if not changes:
        return current
    values = dict(changes)
    if "parent_id" in changes:
        values["depth"] = await move_in_tree(unit, CATEGORIES, tenant_id, current,
                                             changes["parent_id"])
    row = await update(unit.conn, CATEGORIES, tenant_id, category_id, values)
    unit.emit(tenant_id, ev.CategoryUpdated(category_id=category_id, changed=sorted(changes)))
    return row


@write_service("content")
async def delete_category(
    unit: Unit, tenant_id: uuid.UUID, category_id: uuid.UUID | str
) -> dict[str, Any]:
    """Delete a category and its subcategories (one `CategoryDeleted` each); their nodes stay,
    uncategorized."""
    category_id = parse_id(category_id, "category_id")
    await lock_tree(unit.conn, CATEGORIES, tenant_id)
    root = await fetch_owned(unit.conn, CATEGORIES, tenant_id, category_id, lock=True)
    subtree = await locked_subtree(unit.conn, CATEGORIES, tenant_id, category_id)
    await delete(unit.conn, CATEGORIES, tenant_id, category_id)
    for row in subtree:
        unit.emit(tenant_id, ev.CategoryDeleted(category_id=row["id"]))
    return root


# ---- tags ----------------------------------------------------------------------------------
class TagCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    slug: TagSlug | None = None
    """Derived from the name when not given."""


class TagUpdate(BaseModel):
    """A rename; the slug changes only when given."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", min_length=1, max_length=100)
    slug: TagSlug = ""


@write_service()
async def create_tag(
    unit: Unit, tenant_id: uuid.UUID, data: TagCreate | Mapping[str, Any]
) -> dict[str, Any]:
    """A tag (shared by content and commerce); a slug taken in the tenant is a `Conflict`."""
    spec = parse_input(TagCreate, data)
    row = await insert(unit.conn, TAGS, {
        "id": new_id(), "tenant_id": tenant_id, "name": spec.name,
        "slug": spec.slug or _derived_slug(spec.name, TAG_SLUG_MAX),
    })
    unit.emit(tenant_id, ev.TagCreated(tag_id=row["id"]))
    return row


@write_service()
async def update_tag(
    unit: Unit, tenant_id: uuid.UUID, tag_id: uuid.UUID | str, data: TagUpdate | Mapping[str, Any]
) -> dict[str, Any]:
    spec = parse_input(TagUpdate, data)
    tag_id = parse_id(tag_id, "tag_id")
    current = await fetch_owned(unit.conn, TAGS, tenant_id, tag_id, lock=True)
    changes = changed_fields(current, spec.model_dump(include=spec.model_fields_set))
    if not changes:
        return current
    row = await update(unit.conn, TAGS, tenant_id, tag_id, changes)
    unit.emit(tenant_id, ev.TagUpdated(tag_id=tag_id, changed=sorted(changes)))
    return row


@write_service()
async def delete_tag(unit: Unit, tenant_id: uuid.UUID, tag_id: uuid.UUID | str) -> dict[str, Any]:
    """Delete a tag and, by cascade, its links."""
    tag_id = parse_id(tag_id, "tag_id")
    await fetch_owned(unit.conn, TAGS, tenant_id, tag_id)
    row = await delete(unit.conn, TAGS, tenant_id, tag_id)
    unit.emit(tenant_id, ev.TagDeleted(tag_id=tag_id))
    return row


async def _tag_target(
    unit: Unit, tenant_id: uuid.UUID, tag_id: uuid.UUID | str, target_type: str,
    target_id: uuid.UUID | str,
) -> tuple[uuid.UUID, uuid.UUID]:
    """Check the tag and the target (locked, so it cannot be deleted under a new link, which
    has no foreign key) belong to the tenant."""
    if target_type not in TAG_TARGETS:
        raise ValidationFailed("target_type", f"must be one of {sorted(TAG_TARGETS)}")
    tag_id = parse_id(tag_id, "tag_id")
    target_id = parse_id(target_id, "target_id")
    table, module = TAG_TARGETS[target_type]
    await unit.require_module(tenant_id, module)
    await fetch_owned(unit.conn, TAGS, tenant_id, tag_id)
    await fetch_owned(unit.conn, table, tenant_id, target_id, lock=True)
    return tag_id, target_id


@write_service()
async def attach_tag(
    unit: Unit, tenant_id: uuid.UUID, tag_id: uuid.UUID | str, target_type: str,
    target_id: uuid.UUID | str,
) -> dict[str, Any]:
    """Link a tag to a node or product of the tenant and return the link. Attaching a tag that
    is already attached is a no-op: the existing link is returned and no event is emitted."""
    tag_id, target_id = await _tag_target(unit, tenant_id, tag_id, target_type, target_id)
    row = await unit.conn.fetchrow(
        QUERIES["tag_attach"],
        tenant_id, tag_id, target_type, target_id)
    if row is not None:
        unit.emit(tenant_id, ev.TagAttached(tag_id=tag_id, target_type=target_type,
                                            target_id=target_id))
        return dict(row)
    existing = await unit.conn.fetchrow(
        QUERIES["tagging_get"],
        tag_id, target_type, target_id)
    assert existing is not None
    return dict(existing)


@write_service()
async def detach_tag(
    unit: Unit, tenant_id: uuid.UUID, tag_id: uuid.UUID | str, target_type: str,
    target_id: uuid.UUID | str,
) -> dict[str, Any]:
    """Remove a link and return it; `NotFound` if the tag is not attached to the target."""
    tag_id, target_id = await _tag_target(unit, tenant_id, tag_id, target_type, target_id)
    row = await unit.conn.fetchrow(
        QUERIES["tag_detach"],
        tenant_id, tag_id, target_type, target_id)
    if row is None:
        raise NotFound("tagging", f"{tag_id}/{target_type}/{target_id}")
    unit.emit(tenant_id, ev.TagDetached(tag_id=tag_id, target_type=target_type,
                                        target_id=target_id))
    return dict(row)
