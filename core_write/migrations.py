"""Applies the numbered plain-SQL files of `migrations/` (I/O: PostgreSQL).

Idempotent; safe when several processes start at once (a session advisory lock serializes
them); records each applied file with its SHA-256 and refuses to run if an applied file was
edited since. Creates the database named in the DSN when it is missing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from core_write.db import connect, ensure_database
from core_write.errors import MigrationError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_LOCK_KEY = 0x5275_7374_6F4B  # "RustoK": one advisory lock id shared by every migrator
_FILE_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in order; a misnamed `.sql` file or a duplicate number is an error."""
    migrations: list[Migration] = []
    numbers: set[str] = set()
    for path in sorted(folder.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_description.sql")
        if match.group(1) in numbers:
            raise MigrationError(f"{path.name}: migration number {match.group(1)} is used twice")
        numbers.add(match.group(1))
        migrations.append(Migration(path.name, path.read_text()))
    return migrations


async def pending_migrations(conn: asyncpg.Connection, folder: Path = MIGRATIONS_DIR) -> list[str]:
    """The migration files not applied to the database `conn` is connected to."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    applied = set()
    if exists:
        applied = {row["name"] for row in await conn.fetch("SELECT name FROM schema_migrations")}
    return [m.name for m in discover(folder) if m.name not in applied]


async def require_current_schema(conn: asyncpg.Connection, folder: Path = MIGRATIONS_DIR) -> None:
    """Refuse to run a daemon against a database whose schema is behind the code."""
    missing = await pending_migrations(conn, folder)
    if missing:
        raise MigrationError(
            f"the database schema is behind the code: {len(missing)} migration(s) not applied "
            f"({', '.join(missing)}); run `rustok-search migrate`"
        )


async def migrate(dsn: str, folder: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration; returns the names applied by this call."""
    migrations = discover(folder)
    if await ensure_database(dsn):
        log.info("created database", extra={"action": "create_database"})
    conn = await connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       name TEXT PRIMARY KEY,
                       checksum TEXT NOT NULL,
                       applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""
            )
            applied = {
                row["name"]: row["checksum"]
                for row in await conn.fetch("SELECT name, checksum FROM schema_migrations")
            }
            on_disk = {m.name for m in migrations}
            for name in sorted(set(applied) - on_disk):
                log.warning("applied migration %s is missing from %s", name, folder)
            for migration in migrations:
                recorded = applied.get(migration.name)
                if recorded is not None and recorded != migration.checksum:
                    raise MigrationError(
                        f"{migration.name} was edited after it was applied "
                        f"(recorded sha256 {recorded[:12]}…, file has "
                        f"{migration.checksum[:12]}…); add a new migration instead"
                    )
            done: list[str] = []
            for migration in migrations:
                if migration.name in applied:
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                        migration.name, migration.checksum,
                    )
                log.info("applied %s", migration.name, extra={"action": "migrate"})
                done.append(migration.name)
            return done
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()
