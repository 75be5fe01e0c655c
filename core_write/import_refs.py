"""Names to ids for a chunk of import lines: the categories, tags, stock locations and
content categories the lines name by handle, slug or name, found or created at the root
(I/O: PostgreSQL, in the chunk's unit of work)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg

from core_write import events as ev
from core_write.ids import new_id
from core_write.import_lines import NodeLine, ProductLine, tag_slug
from core_write.queries import QUERIES
from core_write.unit import Unit
from core_write.validate import NAME_MAX


@dataclass
class Refs:
    """Names resolved to ids for one chunk (created when missing)."""

    categories: dict[str, uuid.UUID] = field(default_factory=dict)
    tags: dict[str, uuid.UUID] = field(default_factory=dict)
    locations: dict[str, uuid.UUID] = field(default_factory=dict)
    content_categories: dict[str, uuid.UUID] = field(default_factory=dict)


async def resolve(unit: Unit, tenant: uuid.UUID, products: Sequence[tuple[int, ProductLine]],
                  nodes: Sequence[tuple[int, NodeLine]]) -> Refs:
    """The ids of the categories, tags, stock locations and content categories the lines of a
    chunk name, creating the missing ones (with their events) in the unit's transaction."""
    conn = unit.conn
    await conn.execute(QUERIES["import_refs_lock"], tenant)
    refs = Refs()
    categories: dict[str, str] = {}
    tags: dict[str, str] = {}
    locations: set[str] = set()
    content_categories: set[str] = set()
    for _, line in products:
        for category in line.categories:
            categories.setdefault(category.handle, category.name or _title(category.handle))
        for tag in line.tags:
            tags.setdefault(tag_slug(tag), tag.name)
        for variant in line.variants:
            locations.update(variant.stock or ())
    for _, node in nodes:
        if node.category:
            content_categories.add(node.category)
        for tag in node.tags:
            tags.setdefault(tag_slug(tag), tag.name)
    if categories:
        refs.categories = await _named(
            conn, tenant, "import_categories_find", "import_categories_create", "handle",
            categories, lambda i: unit.emit(tenant, ev.CommerceCategoryCreated(
                category_id=i)))
    if tags:
        refs.tags = await _named(
            conn, tenant, "import_tags_find", "import_tags_create", "slug", tags,
            lambda i: unit.emit(tenant, ev.TagCreated(tag_id=i)))
    if content_categories:
        refs.content_categories = await _named(
            conn, tenant, "import_content_category_find", "import_content_categories_create",
            "slug", {slug: _title(slug) for slug in content_categories},
            lambda i: unit.emit(tenant, ev.CategoryCreated(category_id=i)))
    if locations:
        found = {r["name"]: r["id"] for r in await conn.fetch(
            QUERIES["import_locations_find"], tenant, sorted(locations))}
        missing = sorted(locations - set(found))
        if missing:
            ids = [new_id() for _ in missing]
            await conn.execute(QUERIES["import_locations_create"], tenant, ids, missing)
            found.update(zip(missing, ids, strict=True))
            for location_id in ids:
                unit.emit(tenant, ev.StockLocationCreated(location_id=location_id))
        refs.locations = found
    return refs

async def _named(conn: asyncpg.Connection, tenant: uuid.UUID, find: str, create: str,
                 key: str, wanted: dict[str, str],
                 created: Callable[[uuid.UUID], object]) -> dict[str, uuid.UUID]:
    """Ids by `key` (handle or slug), creating the missing with their names."""
    found = {r[key]: r["id"] for r in await conn.fetch(QUERIES[find], tenant, list(wanted))}
    missing = [k for k in wanted if k not in found]
    if missing:
        rows = await conn.fetch(QUERIES[create], tenant, [new_id() for _ in missing],
                                [wanted[k][:NAME_MAX] for k in missing], missing)
        for row in rows:
            found[row[key]] = row["id"]
            created(row["id"])
        if len(found) < len(wanted):  # made meanwhile by another writer
            found.update({r[key]: r["id"] for r in await conn.fetch(
                QUERIES[find], tenant, [k for k in wanted if k not in found])})
    return found


def _title(handle: str) -> str:
    return handle.replace("-", " ").capitalize()
