"""Users of a tenant: registration, profile and password changes, login, deletion (I/O: the
unit's connection; argon2 hashing runs in a thread so it never blocks the event loop).

Passwords are stored only as argon2id hashes, and the rows these services return never carry
the hash: callers (the HTTP layer, logs) cannot leak what they never receive.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from core_write import events as ev
from core_write.errors import AuthenticationFailed
from core_write.ids import new_id, parse_id
from core_write.queries import QUERIES
from core_write.rows import Table, changed_fields, delete, fetch_owned, insert, update
from core_write.unit import Unit, write_service
from core_write.validate import JsonObject, parse_input

USERS = Table("users", "user")

hasher: PasswordHasher = PasswordHasher()
"""argon2's default cost. Tests and demo-data scripts may replace it with a cheaper instance;
the services read it at call time."""

Role = Literal["customer", "author", "editor", "admin"]
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$")
PASSWORD_MIN, PASSWORD_MAX = 8, 1024


def check_email(value: str) -> str:
    """Trimmed and lowercased, so that one address cannot register twice in another case."""
    value = value.strip().lower()
    if len(value) > 255 or not EMAIL_RE.match(value):
        raise ValueError("not a valid email address")
    return value


def check_password(value: SecretStr) -> SecretStr:
    if not PASSWORD_MIN <= len(value.get_secret_value()) <= PASSWORD_MAX:
        raise ValueError(f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    return value


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str
    password: SecretStr
    display_name: str | None = Field(default=None, min_length=1, max_length=255)
    role: Role = "customer"
    metadata: JsonObject = Field(default_factory=dict)

    _email = field_validator("email")(classmethod(lambda cls, v: check_email(v)))
    _password = field_validator("password")(classmethod(lambda cls, v: check_password(v)))


class UserUpdate(BaseModel):
    """Only the fields given change; `display_name` may be set to null, the others may not."""

    model_config = ConfigDict(extra="forbid")
    email: str = ""
    password: SecretStr | None = None
    display_name: str | None = Field(default=None, min_length=1, max_length=255)
    role: Role = "customer"
    metadata: JsonObject = Field(default_factory=dict)

    _email = field_validator("email")(classmethod(lambda cls, v: check_email(v)))
    _password = field_validator("password")(classmethod(lambda cls, v: check_password(v)))


def public(row: Mapping[str, Any]) -> dict[str, Any]:
    """The user row without its password hash."""
    return {name: value for name, value in row.items() if name != "password_hash"}


async def _hash(password: SecretStr) -> str:
    return await asyncio.to_thread(hasher.hash, password.get_secret_value())


async def _verify(password_hash: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(hasher.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@write_service()
async def create_user(
    unit: Unit, tenant_id: uuid.UUID, data: UserCreate | Mapping[str, Any]
) -> dict[str, Any]:
    """Register a user; a taken email in the tenant is a `Conflict` naming `email`."""
    spec = parse_input(UserCreate, data)
    row = await insert(unit.conn, USERS, {
        "id": new_id(), "tenant_id": tenant_id, "email": spec.email,
        "display_name": spec.display_name, "password_hash": await _hash(spec.password),
        "role": spec.role, "metadata": spec.metadata,
    })
    unit.emit(tenant_id, ev.UserRegistered(user_id=row["id"], email=spec.email))
    return public(row)


@write_service()
async def update_user(
    unit: Unit, tenant_id: uuid.UUID, user_id: uuid.UUID | str,
    data: UserUpdate | Mapping[str, Any],
) -> dict[str, Any]:
    """Change the given fields; `changed` names `password` (never the hash) when it changed."""
    spec = parse_input(UserUpdate, data)
    user_id = parse_id(user_id, "user_id")
    current = await fetch_owned(unit.conn, USERS, tenant_id, user_id, lock=True)
    wanted = spec.model_dump(include=spec.model_fields_set - {"password"})
    changes = changed_fields(current, wanted)
    changed = sorted(changes)
    if spec.password is not None and not await _verify(
        current["password_hash"], spec.password.get_secret_value()
    ):
        changes["password_hash"] = await _hash(spec.password)
        changed = sorted([*changed, "password"])
    if not changes:
        return public(current)
    row = await update(unit.conn, USERS, tenant_id, user_id, changes)
    unit.emit(tenant_id, ev.UserUpdated(user_id=user_id, changed=changed))
    return public(row)


@write_service()
async def authenticate(
    unit: Unit, tenant_id: uuid.UUID, email: str, password: str
) -> dict[str, Any]:
    """The user with these credentials in this tenant, or `AuthenticationFailed` without saying
    which of the two was wrong."""
    row = await unit.conn.fetchrow(
        QUERIES["user_by_email"],
        tenant_id, email.strip().lower(),
    )
    if row is None:
        # Spend the cost of a real check so that timing does not reveal unknown addresses.
        await asyncio.to_thread(hasher.hash, password)
        raise AuthenticationFailed()
    if not await _verify(row["password_hash"], password):
        raise AuthenticationFailed()
    unit.emit(tenant_id, ev.UserLoggedIn(user_id=row["id"]))
    return public(row)


@write_service()
async def delete_user(unit: Unit, tenant_id: uuid.UUID, user_id: uuid.UUID | str) -> dict[str, Any]:
    """Delete a user; the nodes they wrote and media they uploaded keep living without them."""
    user_id = parse_id(user_id, "user_id")
    await fetch_owned(unit.conn, USERS, tenant_id, user_id)
    row = await delete(unit.conn, USERS, tenant_id, user_id)
    unit.emit(tenant_id, ev.UserDeleted(user_id=user_id))
    return public(row)
