"""The index rows the engine followers build documents from: the current rows of a set of ids,
and every row for a rebuild (I/O: PostgreSQL through asyncpg)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

import asyncpg

from indexer.model import SPECS, DocType


async def fetch_rows(
    pool: asyncpg.Pool, doc_type: DocType, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """The current index rows of `ids` (one query); an id without a row is a deleted doc."""
    spec = SPECS[doc_type]
    rows = await pool.fetch(
        f"SELECT {spec.columns} FROM {spec.table} WHERE {spec.key} = ANY($1::uuid[])", list(ids)
    )
    return {row[spec.key]: row for row in rows}


async def stream_rows(
    pool: asyncpg.Pool, doc_type: DocType, page_size: int = 2000,
    tenant_id: uuid.UUID | None = None,
) -> AsyncIterator[list[Any]]:
    """Every index row of `doc_type` (of all tenants: a Tantivy generation holds them all; or
    of one tenant: a Meilisearch index) in keyset pages by id, each page read by its own
    query when it is asked for (the input of the engines' rebuilds)."""
    spec = SPECS[doc_type]
    table, id_column, columns = spec.table, spec.key, spec.columns
    where = f"{id_column} > $1" + (" AND tenant_id = $3" if tenant_id is not None else "")
    query = f"SELECT {columns} FROM {table} WHERE {where} ORDER BY {id_column} LIMIT $2"
    args: tuple[Any, ...] = (tenant_id,) if tenant_id is not None else ()
    after = uuid.UUID(int=0)
    while True:
        rows = await pool.fetch(query, after, page_size, *args)
        if not rows:
            return
        yield list(rows)
        if len(rows) < page_size:
            return
        after = rows[-1][id_column]
