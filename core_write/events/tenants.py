"""Events of tenants, their modules and users (pure)."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from core_write.events.base import Event


class TenantEvent(Event):
    aggregate_type: ClassVar[str] = "tenant"
    aggregate_field: ClassVar[str] = "tenant_id"
    tenant_id: uuid.UUID


class TenantCreated(TenantEvent):
    type: Literal["TenantCreated"] = "TenantCreated"
    slug: str


class TenantUpdated(TenantEvent):
    type: Literal["TenantUpdated"] = "TenantUpdated"
    changed: list[str]


class TenantDeleted(TenantEvent):
    type: Literal["TenantDeleted"] = "TenantDeleted"


class ModuleToggled(TenantEvent):
    type: Literal["ModuleToggled"] = "ModuleToggled"
    module_slug: str
    enabled: bool


class UserEvent(Event):
    aggregate_type: ClassVar[str] = "user"
    aggregate_field: ClassVar[str] = "user_id"
    user_id: uuid.UUID


class UserRegistered(UserEvent):
    type: Literal["UserRegistered"] = "UserRegistered"
    email: str


class UserUpdated(UserEvent):
    """`changed` lists the columns; a change of `display_name` or `email` renames an author."""

    type: Literal["UserUpdated"] = "UserUpdated"
    changed: list[str]


class UserLoggedIn(UserEvent):
    type: Literal["UserLoggedIn"] = "UserLoggedIn"


class UserDeleted(UserEvent):
    type: Literal["UserDeleted"] = "UserDeleted"
