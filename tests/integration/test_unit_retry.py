"""A unit aborted by a deadlock is retried whole: both colliding calls end committed, each with
exactly its own events (the aborted attempt left none)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from core_write.services import taxonomy
from core_write.unit import CoreWrite, Unit
from tests.builders import make_product, make_tag, make_tenant


async def test_deadlocked_units_are_retried_and_commit_once(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    shop = await make_tenant(core)
    red, blue = await make_tag(core, shop["id"]), await make_tag(core, shop["id"])
    one, two = await make_product(core, shop["id"]), await make_product(core, shop["id"])
    holding = {"one": asyncio.Event(), "two": asyncio.Event()}
    attempts = {"one": 0, "two": 0}

    async def attach_both(unit: Unit, name: str, other: str, first: uuid.UUID,
                          second: uuid.UUID, target: uuid.UUID) -> None:
        attempts[name] += 1
        await taxonomy.attach_tag(unit, shop["id"], first, "product", target)
        holding[name].set()
        if attempts[name] == 1:  # make both first attempts hold one tag row before the other
            await asyncio.wait_for(holding[other].wait(), timeout=10)
        await taxonomy.attach_tag(unit, shop["id"], second, "product", target)

    mark = await pool.fetchval("SELECT max(seq) FROM outbox")
    await asyncio.gather(
        core.call(attach_both, "one", "two", red["id"], blue["id"], one["id"]),
        core.call(attach_both, "two", "one", blue["id"], red["id"], two["id"]),
    )
    assert sorted(attempts.values()) == [1, 2]  # PostgreSQL aborted exactly one of them
    counts = dict(await pool.fetch("SELECT id, use_count FROM tags"))
    assert counts == {red["id"]: 2, blue["id"]: 2}
    events = await pool.fetch(
        "SELECT payload->'event'->>'type' AS type FROM outbox WHERE seq > $1", mark)
    assert [e["type"] for e in events] == ["TagAttached"] * 4
