"""PostgreSQL connections: pool creation with JSON codecs, database creation, and translation of
asyncpg exceptions into the error hierarchy (the I/O edge of the write side)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from core_write.backoff import pause
from core_write.errors import (
    OUTAGES,
    Conflict,
    NotFound,
    RustokError,
    TransientConflict,
    Unavailable,
    ValidationFailed,
)

Connection = asyncpg.Connection
Pool = asyncpg.Pool

log = logging.getLogger(__name__)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


_LOOPBACK = {"127.0.0.1", "::1", "localhost", ""}


def connect_options(dsn: str) -> dict[str, Any]:
    """Connection options for every connection we open.

    - JIT off: our statements are short and many, and the planner's huge cost estimates for
      the document builders' nested aggregates made PostgreSQL spend a second compiling each.
    - TLS on a loopback connection costs CPU and protects nothing, so unless the DSN names an
      `sslmode` a loopback server is reached in plain text (asyncpg would try TLS first).
    """
    options: dict[str, Any] = {"server_settings": {"jit": "off"}}
    parts = urlsplit(dsn)
    explicit = "sslmode=" in parts.query or "ssl=" in parts.query
    if not explicit and (parts.hostname or "") in _LOOPBACK:
        options["ssl"] = False
    return options


async def connect(dsn: str) -> asyncpg.Connection:
    """One dedicated connection (for LISTEN, advisory locks held for a lifetime, migrations)."""
    with translate_errors():
        conn = await asyncpg.connect(dsn, **connect_options(dsn))
    await _init_connection(conn)
    return conn


async def listen(dsn: str, channel: str, wake: asyncio.Event, stop: asyncio.Event,
                 retry: float, action: str) -> None:
    """Until `stop`: hold a dedicated connection (a pooled one would be handed to others)
    that LISTENs on `channel` and sets `wake` at each notification, and once on every
    (re)connection (for what was committed while nobody listened); after a failure, connect
    again `retry` seconds later (log action `action`). A notification is lost while no
    connection listens: the caller polls as well, `wake` only makes it look sooner."""
    while not stop.is_set():
        conn: asyncpg.Connection | None = None
        try:
            conn = await connect(dsn)
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            await conn.add_listener(channel, lambda *_args: wake.set())
            wake.set()
            await pause(None, lost, stop)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - keep listening; the caller's polls cover the gap
            log.warning("LISTEN %s failed: %s", channel, exc, extra={"action": action})
            await pause(retry, stop)
        finally:
            if conn is not None and not conn.is_closed():
                await conn.close()


async def create_pool(dsn: str, min_size: int = 1, max_size: int = 10,
                      statement_timeout_ms: int | None = None) -> asyncpg.Pool:
    """A pool of connections opened with `connect_options`; `statement_timeout_ms` makes
    the server end any statement of these connections that runs longer (0/None: no limit)."""
    options = connect_options(dsn)
    if statement_timeout_ms:
        options["server_settings"]["statement_timeout"] = str(statement_timeout_ms)
    with translate_errors():
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, init=_init_connection, **options,
        )
    assert pool is not None
    return pool


@asynccontextmanager
async def open_pool(
    dsn: str, min_size: int = 1, max_size: int = 10
) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(dsn, min_size, max_size)
    try:
        yield pool
    finally:
        await pool.close()


def database_name(dsn: str) -> str:
    path = urlsplit(dsn).path.lstrip("/")
    if not path:
        raise ValidationFailed("DATABASE_URL", "names no database")
    return path


def with_database(dsn: str, name: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def ensure_database(dsn: str) -> bool:
    """Create the database named in `dsn` if it is missing; True if it was created."""
    name = database_name(dsn)
    admin = await connect(with_database(dsn, "postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        try:
            await admin.execute(f"CREATE DATABASE {quote_ident(name)}")
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
            return False  # another process created it first
        return True
    finally:
        await admin.close()


_CONSTRAINT_FIELDS = {
    "tenants_slug_key": "slug",
    "users_tenant_id_email_key": "email",
    "categories_tenant_id_slug_key": "slug",
    "uq_nodes_slug": "slug",
    "tags_tenant_id_slug_key": "slug",
    "commerce_products_tenant_id_handle_key": "handle",
    "uq_commerce_variants_sku": "sku",
    "commerce_categories_tenant_id_handle_key": "handle",
    "uq_commerce_inventory_items_sku": "sku",
    "tenant_modules_tenant_id_module_slug_key": "module_slug",
    "commerce_prices_variant_id_currency_code_price_list_id_min__key": "currency_code",
    "meta_tenant_id_target_type_target_id_key": "target_id",
}


_PARTITION_INDEX_FIELDS = {
    # a unique index on a partitioned table is reported under the partition's copy of it,
    # named after the partition and the columns: nodes_p5_tenant_id_kind_slug_idx
    "_tenant_id_kind_slug_idx": "slug",
}


def _constraint_field(exc: asyncpg.PostgresError) -> str | None:
    name = getattr(exc, "constraint_name", None) or ""
    if name in _CONSTRAINT_FIELDS:
        return _CONSTRAINT_FIELDS[name]
    for suffix, field in _PARTITION_INDEX_FIELDS.items():
        if name.endswith(suffix):
            return field
    column = getattr(exc, "column_name", None)
    return str(column) if column else None


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn asyncpg's exceptions into RusToK errors; ours pass through untouched."""
    try:
        yield
    except RustokError:
        raise
    except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as exc:
        raise TransientConflict(f"concurrent transaction collided: {exc}") from exc
    except asyncpg.UniqueViolationError as exc:
        field = _constraint_field(exc)
        raise Conflict(f"{field or 'value'} already exists", field=field) from exc
    except asyncpg.ForeignKeyViolationError as exc:
        raise NotFound("referenced entity", exc.detail or "", str(exc.detail or exc)) from exc
    except asyncpg.CheckViolationError as exc:
        raise ValidationFailed(_constraint_field(exc) or "value",
                               f"violates {exc.constraint_name}") from exc
    except asyncpg.NotNullViolationError as exc:
        raise ValidationFailed(_constraint_field(exc) or "value", "is required") from exc
    except (asyncpg.StringDataRightTruncationError,
            asyncpg.NumericValueOutOfRangeError) as exc:
        raise ValidationFailed(_constraint_field(exc) or "value", str(exc)) from exc
    except (asyncpg.DataError, asyncpg.ProgramLimitExceededError) as exc:
        # the input checks (core_write.validate) name the field first; this is the backstop
        # for a value they let through (bad text, a wrong type, a tsvector over 1 MB)
        raise ValidationFailed(_constraint_field(exc) or "value", _short(str(exc))) from exc
    except OUTAGES as exc:
        raise Unavailable(f"PostgreSQL unavailable: {exc}") from exc


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[:limit] + "…"

