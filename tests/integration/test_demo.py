"""The demo loader writes its plans through the services: the expected rows, one event per
change, the same content for the same seed, and a refusal to load twice."""

from __future__ import annotations

import asyncpg
import pytest

from core_write.errors import Conflict
from core_write.services import users
from rustok_search import demo_writer as demo
from rustok_search.demo_data import plan_demo
from tests.builders import FAST_HASHER


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "hasher", FAST_HASHER)


async def _count(pool: asyncpg.Pool, sql: str) -> int:
    return int(await pool.fetchval(sql))


async def test_demo_load_writes_plans_with_one_event_per_change(pool: asyncpg.Pool) -> None:
    spec = demo.DemoSpec(products=30, nodes=24, tenants=2, seed=5, concurrency=3)
    report = await demo.load_demo(pool, spec)
    plans = plan_demo(30, 24, 2, 5)
    assert report.products == 30 and report.nodes == 24
    assert report.events == await _count(pool, "SELECT count(*) FROM outbox")
    titles = sorted(r["title"] for r in await pool.fetch("SELECT title FROM commerce_products"))
    assert titles == sorted(p.title for t in plans for p in t.products)
    variants = sum(len(p.variants) for t in plans for p in t.products)
    prices = sum(len(v.prices) for t in plans for p in t.products for v in p.variants)
    by_type = dict(await pool.fetch(
        "SELECT event_type, count(*) FROM outbox GROUP BY event_type"))
    assert by_type["TenantCreated"] == 2
    assert by_type["ProductCreated"] == 30
    assert by_type["ProductPublished"] == sum(
        p.status == "published" for t in plans for p in t.products)
    assert by_type["VariantCreated"] == variants == await _count(
        pool, "SELECT count(*) FROM commerce_variants")
    assert by_type["PriceChanged"] == prices == await _count(
        pool, "SELECT count(*) FROM commerce_prices")
    assert by_type["InventoryUpdated"] == await _count(
        pool, "SELECT count(*) FROM commerce_inventory_levels") == 2 * variants
    assert by_type["NodeCreated"] == 24 == await _count(pool, "SELECT count(*) FROM nodes")
    assert by_type["TagAttached"] == await _count(pool, "SELECT count(*) FROM taggables")
    assert by_type["MetaUpdated"] == await _count(pool, "SELECT count(*) FROM meta")
    comments = await pool.fetch("SELECT parent_id FROM nodes WHERE kind = 'comment'")
    assert all(row["parent_id"] is not None for row in comments)
    # the reply counters agree with the rows the demo wrote
    mismatched = await _count(pool, """
        SELECT count(*) FROM nodes p WHERE p.reply_count <> (
            SELECT count(*) FROM nodes c WHERE c.tenant_id = p.tenant_id
              AND c.parent_id = p.id AND c.kind = 'comment')""")
    assert mismatched == 0
    with pytest.raises(Conflict, match="demo tenants already exist"):
        await demo.load_demo(pool, spec)
