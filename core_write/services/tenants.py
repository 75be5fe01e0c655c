"""Tenants and their module toggles (I/O: the unit's connection)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core_write import events as ev
from core_write.errors import NotFound, ValidationFailed
from core_write.ids import new_id
from core_write.queries import QUERIES
from core_write.rows import Table, changed_fields, delete, fetch_owned, insert, update
from core_write.unit import Unit, write_service
from core_write.validate import JsonObject, TenantSlug, check_json, parse_input

TENANTS = Table("tenants", "tenant", tenant="id")
MODULES = Table("tenant_modules", "module", touch=False)

KNOWN_MODULES = ("content", "commerce")


class TenantSettings(BaseModel):
    model_config = ConfigDict(extra="allow")
    language: str = Field(default="simple", max_length=63, pattern=r"^[a-z_]{1,63}$")
    low_stock_threshold: int = Field(default=5, ge=0)
    in_stock_first: bool = True
    """Products in stock rank before those out of stock, in relevance order and explicit
    sorts alike (README, Ranking rules: tier 0)."""

    @model_validator(mode="after")
    def _json(self) -> TenantSettings:
        check_json(self.model_dump())  # the free-form rest is stored as JSON
        return self


class ModuleToggle(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool
    settings: JsonObject | None = None


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    slug: TenantSlug
    settings: TenantSettings = Field(default_factory=TenantSettings)
    modules: tuple[str, ...] = KNOWN_MODULES

    @field_validator("modules")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(value) - set(KNOWN_MODULES)
        if unknown:
            raise ValueError(f"unknown modules {sorted(unknown)}; known: {list(KNOWN_MODULES)}")
        return value


class TenantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=255)
    settings: TenantSettings | None = None


async def _check_language(unit: Unit, language: str) -> None:
    found = await unit.conn.fetchval(QUERIES["text_search_config_exists"], language)
    if not found:
        raise ValidationFailed("settings.language", f"no text search configuration {language!r}")


@write_service()
async def create_tenant(unit: Unit, data: TenantCreate | Mapping[str, Any]) -> dict[str, Any]:
    spec = parse_input(TenantCreate, data)
    await _check_language(unit, spec.settings.language)
    row = await insert(unit.conn, TENANTS, {
        "id": new_id(), "name": spec.name, "slug": spec.slug,
        "settings": spec.settings.model_dump(),
    })
    unit.emit(row["id"], ev.TenantCreated(tenant_id=row["id"], slug=spec.slug))
    for module in KNOWN_MODULES:
        await insert(unit.conn, MODULES, {
            "id": new_id(), "tenant_id": row["id"], "module_slug": module,
            "enabled": module in spec.modules,
        })
    return row


@write_service()
async def get_tenant(unit: Unit, tenant_id: uuid.UUID) -> dict[str, Any]:
    return await fetch_owned(unit.conn, TENANTS, tenant_id, tenant_id)


@write_service()
async def get_tenant_by_slug(unit: Unit, slug: str) -> dict[str, Any]:
    row = await unit.conn.fetchrow(QUERIES["tenant_by_slug"], slug)
    if row is None:
        raise NotFound("tenant", slug)
    return dict(row)


@write_service()
async def update_tenant(
    unit: Unit, tenant_id: uuid.UUID, data: TenantUpdate | Mapping[str, Any]
) -> dict[str, Any]:
    spec = parse_input(TenantUpdate, data)
    current = await fetch_owned(unit.conn, TENANTS, tenant_id, tenant_id, lock=True)
    wanted: dict[str, Any] = {}
    if spec.name is not None:
        wanted["name"] = spec.name
    if spec.settings is not None:
        # the keys given replace the stored ones; the others keep their values (changing
        # `in_stock_first` alone must not reset the language)
        stored = _settings(current)
        merged = {**stored, **spec.settings.model_dump(exclude_unset=True)}
        checked = TenantSettings.model_validate(merged)
        await _check_language(unit, checked.language)
        wanted["settings"] = {**stored, **checked.model_dump()}
    changes = changed_fields(current, wanted)
    if not changes:
        return current
    row = await update(unit.conn, TENANTS, tenant_id, tenant_id, changes)
    if _language(current) != _language(row):
        # the bodies' vectors were built with the old configuration: rebuild them in the same
        # unit (one statement; a language change is rare and must not leave mixed vectors)
        await unit.conn.execute(QUERIES["bodies_revector"], tenant_id, _language(row))
    unit.emit(tenant_id, ev.TenantUpdated(tenant_id=tenant_id, changed=sorted(changes)))
    return row


def _settings(tenant: Mapping[str, Any]) -> dict[str, Any]:
    settings = tenant.get("settings") or {}
    if isinstance(settings, str):
        settings = json.loads(settings)
    return dict(settings)


def _language(tenant: Mapping[str, Any]) -> str:
    return str(_settings(tenant).get("language") or "simple")


@write_service()
async def delete_tenant(unit: Unit, tenant_id: uuid.UUID) -> None:
    """Delete a tenant and, by cascade, everything it owns."""
    await delete(unit.conn, TENANTS, tenant_id, tenant_id)
    unit.emit(tenant_id, ev.TenantDeleted(tenant_id=tenant_id))


@write_service()
async def set_module(
    unit: Unit, tenant_id: uuid.UUID, module: str, enabled: bool,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Enable or disable a module for a tenant."""
    if module not in KNOWN_MODULES:
        raise ValidationFailed("module_slug", f"unknown module {module!r}")
    spec = parse_input(ModuleToggle, None, enabled=enabled, settings=settings)
    row = await unit.conn.fetchrow(
        QUERIES["module_toggle"],
        new_id(), tenant_id, module, spec.enabled, spec.settings or {}, spec.settings,
    )
    assert row is not None
    unit.emit(tenant_id, ev.ModuleToggled(tenant_id=tenant_id, module_slug=module,
                                          enabled=spec.enabled))
    return dict(row)
