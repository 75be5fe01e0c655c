"""Quarterly range partitions of `commerce_orders` (I/O: PostgreSQL).

`ensure_order_partitions` creates the partition of the current quarter and the next `ahead`
ones. Rows that already landed in the default partition for a new quarter are moved into it in
the same transaction, with foreign-key triggers paused so that moving an order does not cascade
to its items (the rows exist again under the parent before the transaction commits).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    def next(self) -> Quarter:
        if self.number == 4:
            return Quarter(self.year + 1, 1)
        return Quarter(self.year, self.number + 1)

    @property
    def start(self) -> date:
        return date(self.year, 3 * (self.number - 1) + 1, 1)

    @property
    def end(self) -> date:
        return self.next().start

    @property
    def table(self) -> str:
        return f"commerce_orders_{self.year}_q{self.number}"


def quarters_from(today: date, ahead: int) -> list[Quarter]:
    """The current quarter and the `ahead` quarters after it (pure)."""
    quarter = Quarter.of(today)
    result = [quarter]
    for _ in range(ahead):
        quarter = quarter.next()
        result.append(quarter)
    return result


async def ensure_order_partitions(
    conn: asyncpg.Connection, ahead: int = 4, today: date | None = None
) -> list[str]:
    """Create the missing quarterly partitions; returns the names created."""
    if ahead < 0 or ahead > 40:
        raise ValueError("ahead must be between 0 and 40 quarters")
    existing = {
        row["relname"]
        for row in await conn.fetch(
            """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = 'commerce_orders'::regclass"""
        )
    }
    created: list[str] = []
    for quarter in quarters_from(today or datetime.now(UTC).date(), ahead):
        if quarter.table in existing:
            continue
        await _create(conn, quarter)
        created.append(quarter.table)
    return created


async def _create(conn: asyncpg.Connection, quarter: Quarter) -> None:
    start, end = quarter.start.isoformat(), quarter.end.isoformat()
    async with conn.transaction():
        await conn.execute("LOCK TABLE commerce_orders IN ACCESS EXCLUSIVE MODE")
        stray = await conn.fetchval(
            "SELECT count(*) FROM commerce_orders_default"
            " WHERE created_at >= $1 AND created_at < $2",
            datetime.fromisoformat(start).replace(tzinfo=UTC),
            datetime.fromisoformat(end).replace(tzinfo=UTC),
        )
        await conn.execute(
            f"CREATE TABLE {quarter.table} "
            "(LIKE commerce_orders INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        if stray:
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(
                f"""WITH moved AS (
                        DELETE FROM commerce_orders_default
                        WHERE created_at >= '{start}' AND created_at < '{end}' RETURNING *)
                    INSERT INTO {quarter.table} SELECT * FROM moved"""
            )
            await conn.execute("SET LOCAL session_replication_role = origin")
        await conn.execute(
            f"ALTER TABLE commerce_orders ATTACH PARTITION {quarter.table} "
            f"FOR VALUES FROM ('{start}') TO ('{end}')"
        )
    log.info("created partition %s (moved %d rows from default)", quarter.table, stray,
             extra={"action": "partition"})
