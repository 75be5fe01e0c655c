"""SEO meta of nodes, products and both kinds of categories: one `meta` row per target, set by
upsert (I/O: the unit's connection).

The schema removes a target's meta row when the target is deleted (a trigger), so a meta row
always has a live target in its tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core_write import events as ev
from core_write.errors import NotFound, ValidationFailed
from core_write.ids import new_id, parse_id
from core_write.queries import QUERIES
from core_write.rows import Table, changed_fields, fetch_owned, insert, update
from core_write.services.content import NODES
from core_write.services.taxonomy import CATEGORIES
from core_write.unit import Unit, write_service
from core_write.validate import JsonObject, parse_input

META = Table("meta", "meta")
META_TARGETS: dict[str, tuple[Table, str]] = {
    "node": (NODES, "content"),
    "category": (CATEGORIES, "content"),
    "product": (Table("commerce_products", "product"), "commerce"),
    "commerce_category": (Table("commerce_categories", "commerce_category"), "commerce"),
}
"""target_type → (table, module that must be enabled to write its meta)."""


class MetaInput(BaseModel):
    """Only the fields given are written; the text fields may be set to null to clear them."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=500)
    keywords: str | None = Field(default=None, max_length=255)
    og_title: str | None = Field(default=None, max_length=255)
    og_description: str | None = Field(default=None, max_length=500)
    og_image: str | None = Field(default=None, max_length=500)
    og_type: str | None = Field(default=None, max_length=32)
    twitter_card: str | None = Field(default=None, max_length=32)
    no_index: bool = False
    no_follow: bool = False
    canonical_url: str | None = Field(default=None, max_length=500)
    structured_data: JsonObject | None = None


async def _owned_target(
    unit: Unit, tenant_id: uuid.UUID, target_type: str, target_id: uuid.UUID | str
) -> uuid.UUID:
    """Check the target is the tenant's, locked so that concurrent writers of one target's
    meta take turns (the second sees the first's row) and the target outlives the write."""
    if target_type not in META_TARGETS:
        raise ValidationFailed("target_type", f"must be one of {sorted(META_TARGETS)}")
    target_id = parse_id(target_id, "target_id")
    table, module = META_TARGETS[target_type]
    await unit.require_module(tenant_id, module)
    await fetch_owned(unit.conn, table, tenant_id, target_id, lock=True)
    return target_id


@write_service()
async def set_meta(
    unit: Unit, tenant_id: uuid.UUID, target_type: str, target_id: uuid.UUID | str,
    data: MetaInput | Mapping[str, Any],
) -> dict[str, Any]:
    """Create or change a target's meta; `MetaUpdated` only when a value changed (or the row
    is new)."""
    spec = parse_input(MetaInput, data)
    target_id = await _owned_target(unit, tenant_id, target_type, target_id)
    values = spec.model_dump(include=spec.model_fields_set)
    current = await unit.conn.fetchrow(
        QUERIES["meta_get"],
        tenant_id, target_type, target_id)
    if current is None:
        row = await insert(unit.conn, META, {
            "id": new_id(), "tenant_id": tenant_id, "target_type": target_type,
            "target_id": target_id, **values,
        })
    else:
        changes = changed_fields(current, values)
        if not changes:
            return dict(current)
        row = await update(unit.conn, META, tenant_id, current["id"], changes)
    unit.emit(tenant_id, ev.MetaUpdated(target_type=target_type, target_id=target_id))
    return row


@write_service()
async def delete_meta(
    unit: Unit, tenant_id: uuid.UUID, target_type: str, target_id: uuid.UUID | str
) -> dict[str, Any]:
    """Remove a target's meta; `NotFound` if it has none."""
    target_id = await _owned_target(unit, tenant_id, target_type, target_id)
    row = await unit.conn.fetchrow(
        QUERIES["meta_delete"], tenant_id, target_type, target_id)
    if row is None:
        raise NotFound("meta", f"{target_type}/{target_id}")
    unit.emit(tenant_id, ev.MetaDeleted(target_type=target_type, target_id=target_id))
    return dict(row)
