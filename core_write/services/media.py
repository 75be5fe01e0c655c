"""Media records: metadata about uploaded files (the bytes live in a storage driver, not
here) (I/O: the unit's connection)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core_write import events as ev
from core_write.ids import new_id, parse_id
from core_write.rows import (
    Table,
    delete,
    fetch_owned,
    insert,
    update_if_changed,
)
from core_write.services.users import USERS
from core_write.unit import Unit, write_service
from core_write.validate import BIGINT_MAX, INT_MAX, Id, JsonObject, parse_input

MEDIA = Table("media", "media", touch=False)

# type "/" subtype, RFC 6838 restricted names; stored lowercased (media types ignore case).
_MIME = r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$"


class _MediaFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    filename: str = Field(default="", min_length=1, max_length=255)
    original_name: str = Field(default="", min_length=1, max_length=255)
    mime_type: str = Field(default="", max_length=100, pattern=_MIME)
    size: int = Field(default=0, ge=0, le=BIGINT_MAX)
    storage_path: str = Field(default="", min_length=1, max_length=500)
    storage_driver: str = Field(default="local", min_length=1, max_length=32)
    width: int | None = Field(default=None, gt=0, le=INT_MAX)
    height: int | None = Field(default=None, gt=0, le=INT_MAX)
    alt_text: str | None = Field(default=None, max_length=255)
    metadata: JsonObject = Field(default_factory=dict)

    @field_validator("mime_type", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class MediaCreate(_MediaFields):
    filename: str = Field(min_length=1, max_length=255)
    original_name: str = Field(min_length=1, max_length=255)
    mime_type: str = Field(max_length=100, pattern=_MIME)
    size: int = Field(ge=0, le=BIGINT_MAX)
    storage_path: str = Field(min_length=1, max_length=500)
    uploaded_by: Id | None = None


class MediaUpdate(_MediaFields):
    """Only the fields given change; the uploader is fixed at creation."""


@write_service()
async def create_media(
    unit: Unit, tenant_id: uuid.UUID, data: MediaCreate | Mapping[str, Any]
) -> dict[str, Any]:
    """Record an uploaded file; `uploaded_by` must be a user of the tenant."""
    spec = parse_input(MediaCreate, data)
    if spec.uploaded_by is not None:
        await fetch_owned(unit.conn, USERS, tenant_id, spec.uploaded_by)
    row = await insert(unit.conn, MEDIA, {"id": new_id(), "tenant_id": tenant_id,
                                          **spec.model_dump()})
    unit.emit(tenant_id, ev.MediaCreated(media_id=row["id"]))
    return row


@write_service()
async def update_media(
    unit: Unit, tenant_id: uuid.UUID, media_id: uuid.UUID | str,
    data: MediaUpdate | Mapping[str, Any],
) -> dict[str, Any]:
    spec = parse_input(MediaUpdate, data)
    media_id = parse_id(media_id, "media_id")
    row, changes = await update_if_changed(unit.conn, MEDIA, tenant_id, media_id,
                                           spec.model_dump(include=spec.model_fields_set))
    if changes:
        unit.emit(tenant_id, ev.MediaUpdated(media_id=media_id))
    return row


@write_service()
async def delete_media(
    unit: Unit, tenant_id: uuid.UUID, media_id: uuid.UUID | str
) -> dict[str, Any]:
    """Delete a media record (the stored file is the storage driver's business)."""
    media_id = parse_id(media_id, "media_id")
    await fetch_owned(unit.conn, MEDIA, tenant_id, media_id)
    row = await delete(unit.conn, MEDIA, tenant_id, media_id)
    unit.emit(tenant_id, ev.MediaDeleted(media_id=media_id))
    return row
