"""Row gateway shared by the entity services: insert, update, delete and owned lookups on the
fixed tables of the schema, always scoped by tenant (I/O: the caller's connection).

Column names come from the services' pydantic input models, never from user input, and table
names from the `Table` constants below, so the SQL built here is a closed set.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from core_write.errors import NotFound, TenantMismatch


@dataclass(frozen=True)
class Table:
    name: str
    entity: str
    key: str = "id"
    touch: bool = True
    """Whether the table has an `updated_at` to set on update."""
    tenant: str = "tenant_id"
    """The column naming the owning tenant (`id` for the tenants table itself)."""


async def fetch_owned(
    conn: asyncpg.Connection, table: Table, tenant_id: uuid.UUID, entity_id: uuid.UUID,
    *, lock: bool = False,
) -> dict[str, Any]:
    """The row with this id, which must belong to `tenant_id`: `NotFound` if there is none,
    `TenantMismatch` if it belongs to another tenant."""
    sql = f"SELECT * FROM {table.name} WHERE {table.key} = $1"
    if lock:
        sql += " FOR UPDATE"
    row = await conn.fetchrow(sql, entity_id)
    if row is None:
        raise NotFound(table.entity, entity_id)
    if row[table.tenant] != tenant_id:
        raise TenantMismatch(table.entity, entity_id)
    return dict(row)


async def insert(
    conn: asyncpg.Connection, table: Table, values: Mapping[str, Any]
) -> dict[str, Any]:
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders}) "
           "RETURNING *")
    row = await conn.fetchrow(sql, *values.values())
    assert row is not None
    return dict(row)


def changed_fields(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of `changes` that differs from the current row."""
    return {name: value for name, value in changes.items() if current.get(name) != value}


async def update(
    conn: asyncpg.Connection, table: Table, tenant_id: uuid.UUID, entity_id: uuid.UUID,
    changes: Mapping[str, Any],
) -> dict[str, Any]:
    """Apply `changes` to a row of the tenant and return the new row."""
    assignments = [f"{name} = ${i}" for i, name in enumerate(changes, start=3)]
    if table.touch:
        assignments.append("updated_at = now()")
    sql = (f"UPDATE {table.name} SET {', '.join(assignments)} "
           f"WHERE {table.key} = $1 AND {table.tenant} = $2 RETURNING *")
    row = await conn.fetchrow(sql, entity_id, tenant_id, *changes.values())
    if row is None:
        raise NotFound(table.entity, entity_id)
    return dict(row)


async def update_if_changed(
    conn: asyncpg.Connection, table: Table, tenant_id: uuid.UUID, entity_id: uuid.UUID,
    wanted: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Lock the tenant's row, apply the fields of `wanted` that differ, and return the row
    and those changes ({} for a no-op, which writes nothing: the caller emits no event)."""
    current = await fetch_owned(conn, table, tenant_id, entity_id, lock=True)
    changes = changed_fields(current, wanted)
    if not changes:
        return current, changes
    return await update(conn, table, tenant_id, entity_id, changes), changes


async def delete(
    conn: asyncpg.Connection, table: Table, tenant_id: uuid.UUID, entity_id: uuid.UUID
) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"DELETE FROM {table.name} WHERE {table.key} = $1 AND {table.tenant} = $2 RETURNING *",
        entity_id, tenant_id,
    )
    if row is None:
        raise NotFound(table.entity, entity_id)
    return dict(row)
