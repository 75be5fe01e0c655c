"""Migrations from zero: idempotent, concurrent-safe, edits detected, and the schema holds
exactly the tables and partitions we expect."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import pytest

from core_write.db import connect, quote_ident, with_database
from core_write.migrations import MIGRATIONS_DIR, MigrationError, migrate
from core_write.partitions import ensure_order_partitions
from core_write.settings import Settings
from tests.conftest import BASE_DSN, RUN_ID

EXPECTED_TABLES = {
    "tenants", "users", "nodes", "bodies", "categories", "tags", "taggables", "meta", "media",
    "tenant_modules", "commerce_products", "commerce_variants", "commerce_options",
    "commerce_option_values", "commerce_variant_options", "commerce_prices",
    "commerce_categories", "commerce_product_categories", "commerce_inventory_items",
    "commerce_stock_locations", "commerce_inventory_levels", "commerce_variant_inventory",
    "commerce_orders", "commerce_order_items", "index_products", "index_content", "outbox",
    "relay_state", "schema_migrations", "engine_queue", "index_jobs", "api_keys",
    "engine_indexes", "tenant_counters", "currencies", "import_jobs", "import_errors",
    "search_settings", "search_rules", "search_relevance_audit",
}


@pytest.fixture
async def fresh_dsn() -> AsyncIterator[str]:
    name = f"rustok_test_{RUN_ID}_mig_{uuid.uuid4().hex[:8]}"
    yield with_database(BASE_DSN, name)
    admin = await connect(with_database(BASE_DSN, "postgres"))
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
    finally:
        await admin.close()


async def test_migrate_creates_the_database_and_is_idempotent(fresh_dsn: str) -> None:
    first = await migrate(fresh_dsn)
    assert first == sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
    assert await migrate(fresh_dsn) == []
    conn = await connect(fresh_dsn)
    try:
        tables = {r["relname"] for r in await conn.fetch(
            """SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition""")}
        assert tables == EXPECTED_TABLES
        partitions = {r["relname"]: r["bound"] for r in await conn.fetch(
            """SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
               FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = 'nodes'::regclass""")}
        assert sorted(partitions) == [f"nodes_p{i}" for i in range(8)]
        assert "modulus 8, remainder 3" in partitions["nodes_p3"].lower()
        strategies = dict(await conn.fetch(
            """SELECT c.relname, p.partstrat::text FROM pg_partitioned_table p
               JOIN pg_class c ON c.oid = p.partrelid"""))
        assert strategies == {"nodes": "h", "commerce_orders": "r"}
        node_pk = await conn.fetchval(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'nodes'::regclass AND contype = 'p'")
        assert node_pk == "PRIMARY KEY (tenant_id, id)"
        order_pk = await conn.fetchval(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'commerce_orders'::regclass AND contype = 'p'")
        assert order_pk == "PRIMARY KEY (id, created_at)"
        # every tenant-owned table carries tenant_id
        without_tenant = {r["table_name"] for r in await conn.fetch(
            """SELECT t.table_name FROM information_schema.tables t
               WHERE t.table_schema = 'public' AND NOT EXISTS (
                 SELECT 1 FROM information_schema.columns c WHERE c.table_name = t.table_name
                 AND c.column_name = 'tenant_id')""")}
        # global reference data and bookkeeping only
        assert without_tenant == {"tenants", "relay_state", "schema_migrations", "currencies"}
    finally:
        await conn.close()


async def test_two_migrators_at_once_apply_each_file_once(fresh_dsn: str) -> None:
    results = await asyncio.gather(migrate(fresh_dsn), migrate(fresh_dsn), migrate(fresh_dsn))
    applied = [name for result in results for name in result]
    assert sorted(applied) == sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))


async def test_an_edited_applied_migration_is_refused(fresh_dsn: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    await migrate(fresh_dsn, folder)
    edited = folder / "0001_core.sql"
    edited.write_text(edited.read_text() + "\n-- a harmless looking edit\n")
    with pytest.raises(MigrationError, match="0001_core.sql was edited"):
        await migrate(fresh_dsn, folder)
    (folder / "0099_later.sql").write_text("CREATE TABLE later (id int);")
    with pytest.raises(MigrationError):
        await migrate(fresh_dsn, folder)  # nothing new is applied past an edited file


async def test_partitions_ensure_creates_quarters_and_moves_stray_rows(fresh_dsn: str) -> None:
    await migrate(fresh_dsn)
    conn = await connect(fresh_dsn)
    try:
        tenant = uuid.uuid4()
        await conn.execute("INSERT INTO tenants (id, name, slug) VALUES ($1, 't', 't')", tenant)
        order = uuid.uuid4()
        placed = datetime(2031, 2, 3, tzinfo=UTC)
        await conn.execute(
            """INSERT INTO commerce_orders
                   (id, tenant_id, currency_code, subtotal, total, created_at)
               VALUES ($1, $2, 'EUR', 100, 100, $3)""", order, tenant, placed)
        await conn.execute(
            """INSERT INTO commerce_order_items (id, tenant_id, order_id, order_created_at, title,
               quantity, unit_price, total) VALUES ($1, $2, $3, $4, 'x', 1, 100, 100)""",
            uuid.uuid4(), tenant, order, placed)
        created = await ensure_order_partitions(conn, ahead=1, today=date(2031, 1, 10))
        assert created == ["commerce_orders_2031_q1", "commerce_orders_2031_q2"]
        assert await ensure_order_partitions(conn, ahead=1, today=date(2031, 1, 10)) == []
        home = await conn.fetchval(
            "SELECT tableoid::regclass::text FROM commerce_orders WHERE id = $1", order)
        assert home == "commerce_orders_2031_q1"
        assert await conn.fetchval("SELECT count(*) FROM commerce_order_items") == 1
        assert await conn.fetchval("SELECT count(*) FROM commerce_orders_default") == 0
    finally:
        await conn.close()


async def test_daemons_refuse_a_database_whose_schema_is_behind(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    from core_write.resources import open_resources

    async with open_resources(settings) as res:  # current: opens
        assert await res.pool.fetchval("SELECT 1") == 1
    last = sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))[-1]
    await pool.execute("DELETE FROM schema_migrations WHERE name = $1", last)
    with pytest.raises(MigrationError, match=f"not applied \\({last}\\).*rustok-search migrate"):
        async with open_resources(settings):
            pass
