from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from argon2 import PasswordHasher

from core_write.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidId,
    NotFound,
    TenantMismatch,
    ValidationFailed,
)
from core_write.services import users
from core_write.unit import CoreWrite
from tests.builders import (
    FAST_HASHER,
    events_after,
    make_tenant,
    make_user,
    outbox_mark,
)


@pytest.fixture(autouse=True)
def _fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "hasher", FAST_HASHER)


async def _stored(pool: asyncpg.Pool, user_id: uuid.UUID) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT * FROM users WHERE id = $1", user_id)
    assert row is not None
    return dict(row)


async def test_create_user_stores_a_hash_and_emits_registered(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(core)
    mark = await outbox_mark(pool)
    user = (await core.call(users.create_user, tenant["id"], {
        "email": "  Ada@Example.COM ", "password": "s3cret-passw0rd", "display_name": "Ada",
        "role": "editor", "metadata": {"team": "docs"},
    })).value
    assert "password_hash" not in user
    stored = await _stored(pool, user["id"])
    assert (stored["email"], stored["display_name"], stored["role"], stored["metadata"]) == (
        "ada@example.com", "Ada", "editor", {"team": "docs"})
    assert stored["tenant_id"] == tenant["id"]
    assert stored["password_hash"].startswith("$argon2id$")
    assert "s3cret-passw0rd" not in stored["password_hash"]
    assert await events_after(pool, mark) == [
        {"type": "UserRegistered", "user_id": str(user["id"]), "email": "ada@example.com"}]
    payloads = await pool.fetchval("SELECT string_agg(payload::text, ' ') FROM outbox")
    assert "s3cret-passw0rd" not in payloads and "$argon2" not in payloads


def test_default_hasher_uses_argon2_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # drop the autouse cheap hasher: look at the module's own default
    defaults = PasswordHasher()
    assert users.hasher is not FAST_HASHER
    assert (users.hasher.time_cost, users.hasher.memory_cost, users.hasher.parallelism) == (
        defaults.time_cost, defaults.memory_cost, defaults.parallelism)


@pytest.mark.parametrize(("data", "field"), [
    ({"email": "not-an-email", "password": "long enough"}, "email"),
    ({"email": "a@b", "password": "long enough"}, "email"),
    ({"email": "a b@example.com", "password": "long enough"}, "email"),
    ({"password": "long enough"}, "email"),
    ({"email": "a@example.com", "password": "short"}, "password"),
    ({"email": "a@example.com", "password": "x" * 1025}, "password"),
    ({"email": "a@example.com"}, "password"),
    ({"email": "a@example.com", "password": "long enough", "role": "root"}, "role"),
    ({"email": "a@example.com", "password": "long enough", "display_name": ""}, "display_name"),
    ({"email": "a@example.com", "password": "long enough", "metadata": [1]}, "metadata"),
    ({"email": "a@example.com", "password": "long enough", "password_hash": "x"},
     "password_hash"),
])
async def test_bad_user_input_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, data: dict[str, object], field: str
) -> None:
    tenant = await make_tenant(core)
    mark = await outbox_mark(pool)
    with pytest.raises(ValidationFailed) as info:
        await core.call(users.create_user, tenant["id"], data)
    assert info.value.field == field
    assert "long enough" not in str(info.value)
    assert await pool.fetchval("SELECT count(*) FROM users") == 0
    assert await events_after(pool, mark) == []


async def test_email_is_unique_per_tenant_ignoring_case(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    a, b = await make_tenant(core), await make_tenant(core)
    await make_user(core, a["id"], email="same@example.com")
    with pytest.raises(Conflict) as info:
        await make_user(core, a["id"], email="SAME@example.com")
    assert info.value.field == "email"
    other = await make_user(core, b["id"], email="same@example.com")
    assert other["tenant_id"] == b["id"]
    assert await pool.fetchval("SELECT count(*) FROM users") == 2


async def test_update_emits_changed_columns_and_nothing_for_a_no_op(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(core)
    user = await make_user(core, tenant["id"], display_name="Ada", role="author")
    mark = await outbox_mark(pool)
    same = (await core.call(users.update_user, tenant["id"], user["id"],
                            {"display_name": "Ada", "role": "author"})).value
    assert same["display_name"] == "Ada" and "password_hash" not in same
    assert await events_after(pool, mark) == []

    row = (await core.call(users.update_user, tenant["id"], str(user["id"]), {
        "display_name": "Ada L.", "role": "admin", "email": "ADA@example.org",
    })).value
    assert (row["display_name"], row["role"], row["email"]) == (
        "Ada L.", "admin", "ada@example.org")
    assert "password_hash" not in row
    assert await events_after(pool, mark) == [{
        "type": "UserUpdated", "user_id": str(user["id"]),
        "changed": ["display_name", "email", "role"]}]


async def test_password_change_is_named_but_never_carried(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(core)
    user = await make_user(core, tenant["id"], email="p@example.com", password="first password")
    old_hash = (await _stored(pool, user["id"]))["password_hash"]
    mark = await outbox_mark(pool)
    await core.call(users.update_user, tenant["id"], user["id"], {"password": "first password"})
    assert await events_after(pool, mark) == []
    assert (await _stored(pool, user["id"]))["password_hash"] == old_hash

    await core.call(users.update_user, tenant["id"], user["id"],
                    {"password": "second password", "display_name": None})
    stored = await _stored(pool, user["id"])
    assert stored["password_hash"] != old_hash
    assert stored["password_hash"].startswith("$argon2id$")
    assert stored["display_name"] is None
    events = await events_after(pool, mark)
    assert events == [{"type": "UserUpdated", "user_id": str(user["id"]),
                       "changed": ["display_name", "password"]}]
    assert stored["password_hash"] not in str(events)
    with pytest.raises(AuthenticationFailed):
        await core.call(users.authenticate, tenant["id"], "p@example.com", "first password")
    row = (await core.call(users.authenticate, tenant["id"], "p@example.com",
                           "second password")).value
    assert row["id"] == user["id"]


@pytest.mark.parametrize(("data", "field"), [
    ({"email": None}, "email"),
    ({"email": "nope"}, "email"),
    ({"role": "owner"}, "role"),
    ({"role": None}, "role"),
    ({"password": "short"}, "password"),
    ({"metadata": None}, "metadata"),
    ({"tenant_id": str(uuid.uuid4())}, "tenant_id"),
])
async def test_bad_update_names_the_field_and_changes_nothing(
    core: CoreWrite, pool: asyncpg.Pool, data: dict[str, object], field: str
) -> None:
    tenant = await make_tenant(core)
    user = await make_user(core, tenant["id"])
    before = await _stored(pool, user["id"])
    mark = await outbox_mark(pool)
    with pytest.raises(ValidationFailed) as info:
        await core.call(users.update_user, tenant["id"], user["id"], data)
    assert info.value.field == field
    assert await _stored(pool, user["id"]) == before
    assert await events_after(pool, mark) == []


async def test_authenticate_emits_logged_in_and_rejects_bad_credentials(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(core)
    user = await make_user(core, tenant["id"], email="ok@example.com", password="right password")
    mark = await outbox_mark(pool)
    row = (await core.call(users.authenticate, tenant["id"], " OK@example.com",
                           "right password")).value
    assert row["id"] == user["id"] and "password_hash" not in row
    assert await events_after(pool, mark) == [
        {"type": "UserLoggedIn", "user_id": str(user["id"])}]

    mark = await outbox_mark(pool)
    for email, password in [("ok@example.com", "wrong password"),
                            ("nobody@example.com", "right password"),
                            ("ok@example.com", "")]:
        with pytest.raises(AuthenticationFailed) as info:
            await core.call(users.authenticate, tenant["id"], email, password)
        assert info.value.message == "The email or password is wrong."
    assert await events_after(pool, mark) == []


async def test_a_user_cannot_log_in_through_another_tenant(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    a, b = await make_tenant(core), await make_tenant(core)
    await make_user(core, b["id"], email="b@example.com", password="b's password")
    mark = await outbox_mark(pool)
    with pytest.raises(AuthenticationFailed):
        await core.call(users.authenticate, a["id"], "b@example.com", "b's password")
    assert await events_after(pool, mark) == []


async def test_delete_user(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    user = await make_user(core, tenant["id"])
    mark = await outbox_mark(pool)
    row = (await core.call(users.delete_user, tenant["id"], user["id"])).value
    assert row["id"] == user["id"] and "password_hash" not in row
    assert await pool.fetchval("SELECT count(*) FROM users") == 0
    assert await events_after(pool, mark) == [
        {"type": "UserDeleted", "user_id": str(user["id"])}]
    with pytest.raises(NotFound):
        await core.call(users.delete_user, tenant["id"], user["id"])


async def test_tenant_a_cannot_touch_tenant_b_users(core: CoreWrite, pool: asyncpg.Pool) -> None:
    a, b = await make_tenant(core), await make_tenant(core)
    theirs = await make_user(core, b["id"], display_name="B")
    before = await _stored(pool, theirs["id"])
    mark = await outbox_mark(pool)
    with pytest.raises(TenantMismatch):
        await core.call(users.update_user, a["id"], theirs["id"], {"display_name": "hacked"})
    with pytest.raises(TenantMismatch):
        await core.call(users.update_user, a["id"], theirs["id"], {"password": "hacked pw!"})
    with pytest.raises(TenantMismatch):
        await core.call(users.delete_user, a["id"], theirs["id"])
    assert await _stored(pool, theirs["id"]) == before
    assert await events_after(pool, mark) == []


async def test_bad_or_unknown_user_id(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    with pytest.raises(InvalidId) as info:
        await core.call(users.update_user, tenant["id"], "not-an-id", {"role": "admin"})
    assert info.value.field == "user_id"
    with pytest.raises(NotFound):
        await core.call(users.delete_user, tenant["id"], uuid.uuid4())
