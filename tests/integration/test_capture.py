"""Writers outside core_write: plain SQL on a second connection (no core_write, no domain
events) reaches the index tables through the capture triggers of migration 0013, with the
fan-out of the domain events; core_write's own writes are not captured twice."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from core_write.services import (
    catalog,
    commerce_categories,
    content,
    seo,
    taxonomy,
    users,
)
from core_write.unit import CoreWrite
from indexer.verify import DOC_TYPES, repair, verify_postgres
from tests.builders import (
    FAST_HASHER,
    make_category,
    make_node,
    make_stock_location,
    make_stocked_variant,
    make_tag,
    make_tenant,
    make_user,
    outbox_mark,
)
from tests.pipeline import Pipeline

VOLATILE = {"product_id", "node_id", "handle", "slug", "version", "position", "indexed_at",
            "created_at", "published_at", "search_vector", "skus", "identifiers"}


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "hasher", FAST_HASHER)


@pytest.fixture
async def sql(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A writer that knows nothing of core_write: a plain asyncpg connection."""
    conn = await asyncpg.connect(db_dsn)
    yield conn
    await conn.close()


async def doc(pool: asyncpg.Pool, doc_type: str, doc_id: uuid.UUID) -> dict[str, Any] | None:
    table, key = (("index_products", "product_id") if doc_type == "product"
                  else ("index_content", "node_id"))
    row = await pool.fetchrow(f"SELECT * FROM {table} WHERE {key} = $1", doc_id)
    return dict(row) if row else None


async def assert_converged(pool: asyncpg.Pool) -> None:
    """Every document equals a fresh build from the source (what `verify` checks)."""
    for doc_type in DOC_TYPES:
        drift = await verify_postgres(pool, doc_type)
        assert (drift.missing, drift.stale, drift.extra) == ([], [], []), doc_type


async def captured(pool: asyncpg.Pool, mark: int) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT payload FROM outbox WHERE seq > $1 AND "
                            "event_type = 'RowChanged' ORDER BY seq", mark)
    return [row["payload"]["event"] for row in rows]


@pytest.fixture
async def world(core: CoreWrite, pipeline: Pipeline) -> dict[str, Any]:
    """A product (price, stock, commerce category, tag, meta) and a post (body, author,
    category, the same tag, a comment), written and indexed through core_write."""
    tenant = await make_tenant(core, settings={"language": "english"})
    tid = tenant["id"]
    where = await make_stock_location(core, tid)
    variant = await make_stocked_variant(core, tid, price=1500, currency="EUR",
                                         stock={where["id"]: 4})
    pid = variant["product_id"]
    ccat = (await core.call(commerce_categories.create_category, tid,
                            {"name": "Footwear", "handle": "footwear"})).value
    await core.call(commerce_categories.link_product_category, tid, pid, ccat["id"])
    tag = await make_tag(core, tid, name="sale")
    await core.call(taxonomy.attach_tag, tid, tag["id"], "product", pid)
    await core.call(seo.set_meta, tid, "product", pid, {"title": "Boots | Shop"})
    author = await make_user(core, tid, display_name="Ada")
    category = await make_category(core, tid, name="News")
    post = await make_node(core, tid, title="Hello", author_id=author["id"],
                           category_id=category["id"], body={"body": "first words"})
    await core.call(taxonomy.attach_tag, tid, tag["id"], "node", post["id"])
    comment = await make_node(core, tid, kind="comment", parent_id=post["id"])
    await pipeline.settle()
    return {"tid": tid, "pid": pid, "variant": variant, "ccat": ccat["id"], "tag": tag["id"],
            "author": author["id"], "category": category["id"], "post": post["id"],
            "comment": comment["id"], "location": where["id"]}


async def test_direct_updates_to_every_table_kind_are_indexed(
    pool: asyncpg.Pool, pipeline: Pipeline, sql: asyncpg.Connection, world: dict[str, Any]
) -> None:
    w = world
    await sql.execute("UPDATE commerce_products SET title = 'Trail runners' WHERE id = $1",
                      w["pid"])
    await sql.execute("UPDATE commerce_prices SET amount = 1200 WHERE variant_id = $1",
                      w["variant"]["id"])
    await sql.execute("UPDATE commerce_inventory_levels SET stocked_quantity = 9 "
                      "WHERE inventory_item_id = $1", w["variant"]["inventory_item_id"])
    await sql.execute("UPDATE commerce_categories SET name = 'Shoes' WHERE id = $1", w["ccat"])
    await sql.execute("UPDATE tags SET name = 'clearance' WHERE id = $1", w["tag"])
    await sql.execute("UPDATE meta SET title = 'Runners | Shop' WHERE target_id = $1", w["pid"])
    await sql.execute("UPDATE bodies SET body = 'second thoughts' WHERE node_id = $1", w["post"])
    await sql.execute("UPDATE users SET display_name = 'Grace' WHERE id = $1", w["author"])
    await sql.execute("UPDATE categories SET name = 'Updates' WHERE id = $1", w["category"])
    await sql.execute("UPDATE commerce_products SET thumbnail = 'https://img.example/t.jpg' "
                      "WHERE id = $1", w["pid"])  # a column of migration 0018: captured too
    await sql.execute("UPDATE commerce_variants SET sku = 'TRAIL-9' WHERE id = $1",
                      w["variant"]["id"])
    new_pid = uuid.uuid4()
    await sql.execute("INSERT INTO commerce_products (id, tenant_id, title, handle, status) "
                      "VALUES ($1, $2, 'Made in psql', 'made-in-psql', 'published')",
                      new_pid, w["tid"])
    await pipeline.settle()
    product = await doc(pool, "product", w["pid"])
    assert product is not None
    assert product["title"] == "Trail runners"
    assert product["prices"] == {"EUR": {"min": 1200, "max": 1200}}
    assert product["total_stock"] == 9
    assert [c["name"] for c in product["categories"]] == ["Shoes"]
    assert product["tags"] == ["clearance"] and product["meta_title"] == "Runners | Shop"
    assert product["thumbnail"] == "https://img.example/t.jpg" and product["skus"] == ["TRAIL-9"]
    assert "trail-9" in product["identifiers"]
    post = await doc(pool, "content", w["post"])
    assert post is not None
    assert post["body_preview"] == "second thoughts" and post["author_name"] == "Grace"
    assert post["category_name"] == "Updates" and post["tags"] == ["clearance"]
    made = await doc(pool, "product", new_pid)
    assert made is not None and made["title"] == "Made in psql"
    # the tenant's language feeds every search vector
    await sql.execute("UPDATE tenants SET settings = '{\"language\": \"simple\"}' "
                      "WHERE id = $1", w["tid"])
    await pipeline.settle()
    await assert_converged(pool)


async def test_deletes_cascades_and_truncate_remove_documents(
    pool: asyncpg.Pool, pipeline: Pipeline, sql: asyncpg.Connection, world: dict[str, Any]
) -> None:
    w = world
    assert (await doc(pool, "content", w["post"]))["reply_count"] == 1  # type: ignore[index]
    await sql.execute("DELETE FROM nodes WHERE tenant_id = $1 AND id = $2", w["tid"],
                      w["comment"])
    await sql.execute("DELETE FROM commerce_categories WHERE id = $1", w["ccat"])  # cascades
    await sql.execute("DELETE FROM tags WHERE id = $1", w["tag"])  # cascades to its links
    await pipeline.settle()
    assert await doc(pool, "content", w["comment"]) is None
    post = await doc(pool, "content", w["post"])
    assert post is not None and post["reply_count"] == 0 and post["tags"] == []
    product = await doc(pool, "product", w["pid"])
    assert product is not None and product["categories"] == [] and product["tags"] == []
    await sql.execute("TRUNCATE commerce_prices")
    await pipeline.settle()
    assert (await doc(pool, "product", w["pid"]))["prices"] == {}  # type: ignore[index]
    await sql.execute("DELETE FROM nodes WHERE tenant_id = $1 AND id = $2", w["tid"], w["post"])
    await sql.execute("TRUNCATE commerce_products CASCADE")
    await pipeline.settle()
    assert await doc(pool, "content", w["post"]) is None
    assert await pool.fetchval("SELECT count(*) FROM index_products") == 0
    await assert_converged(pool)


async def test_a_multi_row_update_is_captured_in_bounded_records(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, sql: asyncpg.Connection
) -> None:
    tid = (await make_tenant(core))["id"]
    mark = await outbox_mark(pool)
    await sql.execute("INSERT INTO commerce_products (id, tenant_id, title, handle, status) "
                      "SELECT gen_random_uuid(), $1, 'Item ' || g, 'item-' || g, 'published' "
                      "FROM generate_series(1, 1200) g", tid)
    inserted = await captured(pool, mark)
    assert [len(e["keys"]) for e in inserted] == [500, 500, 200]
    await pipeline.settle()
    mark = await outbox_mark(pool)
    await sql.execute("UPDATE commerce_products SET title = title || ' (new)' "
                      "WHERE tenant_id = $1", tid)
    assert [(e["op"], len(e["keys"]), e["changed"]) for e in await captured(pool, mark)] == \
        [("update", 500, ["title"]), ("update", 500, ["title"]), ("update", 200, ["title"])]
    # a change of nothing a document reads leaves no record
    mark = await outbox_mark(pool)
    await sql.execute("UPDATE commerce_products SET updated_at = now() WHERE tenant_id = $1", tid)
    assert await captured(pool, mark) == []
    await pipeline.settle()
    assert await pool.fetchval("SELECT count(*) FROM index_products WHERE tenant_id = $1 "
                               "AND title LIKE '% (new)'", tid) == 1200
    await assert_converged(pool)


async def test_rolled_back_sql_leaves_no_record(
    pool: asyncpg.Pool, sql: asyncpg.Connection, world: dict[str, Any]
) -> None:
    mark = await outbox_mark(pool)
    tr = sql.transaction()
    await tr.start()
    await sql.execute("UPDATE commerce_products SET title = 'Never' WHERE id = $1", world["pid"])
    await sql.execute("DELETE FROM nodes WHERE id = $1", world["post"])
    await tr.rollback()
    assert await outbox_mark(pool) == mark


async def test_core_write_is_not_captured_and_both_paths_give_the_same_documents(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, sql: asyncpg.Connection
) -> None:
    tid = (await make_tenant(core))["id"]
    twins = [await make_stocked_variant(core, tid, price=700) for _ in range(2)]
    nodes = [await make_node(core, tid, title="Twin", body={"body": "same"}) for _ in range(2)]
    await pipeline.settle()
    mark = await outbox_mark(pool)
    by_core, by_sql = twins
    await core.call(catalog.update_product, tid, by_core["product_id"], {"title": "Renamed"})
    await core.call(catalog.set_price, tid, by_core["id"], "USD", 650)
    await core.call(content.update_node, tid, nodes[0]["id"], {"title": "Edited"})
    assert await captured(pool, mark) == []
    await sql.execute("UPDATE commerce_products SET title = 'Renamed' WHERE id = $1",
                      by_sql["product_id"])
    await sql.execute("UPDATE commerce_prices SET amount = 650 WHERE variant_id = $1",
                      by_sql["id"])
    await sql.execute("UPDATE nodes SET title = 'Edited' WHERE id = $1", nodes[1]["id"])
    await pipeline.settle()

    def same(row: dict[str, Any] | None) -> dict[str, Any]:
        assert row is not None
        return {k: v for k, v in row.items() if k not in VOLATILE}

    assert same(await doc(pool, "product", by_core["product_id"])) == \
        same(await doc(pool, "product", by_sql["product_id"]))
    assert same(await doc(pool, "content", nodes[0]["id"])) == \
        same(await doc(pool, "content", nodes[1]["id"]))
    assert (await doc(pool, "product", by_sql["product_id"]))["title"] == "Renamed"  # type: ignore[index]


async def test_a_write_without_triggers_is_found_by_verify_and_fixed_by_repair(
    pool: asyncpg.Pool, pipeline: Pipeline, sql: asyncpg.Connection, world: dict[str, Any]
) -> None:
    mark = await outbox_mark(pool)
    async with sql.transaction():
        await sql.execute("SET LOCAL session_replication_role = replica")
        await sql.execute("UPDATE commerce_products SET title = 'Bulk loaded' WHERE id = $1",
                          world["pid"])
    assert await outbox_mark(pool) == mark  # no trigger fired
    await pipeline.settle()
    drift = await verify_postgres(pool, "product")
    assert drift.stale == [world["pid"]]
    await repair(pool, drift, (), True)
    assert (await doc(pool, "product", world["pid"]))["title"] == "Bulk loaded"  # type: ignore[index]
    await assert_converged(pool)


async def test_every_table_the_fan_out_knows_has_its_capture_triggers(pool: asyncpg.Pool) -> None:
    from indexer.fanout import ROW_KEYS

    rows = await pool.fetch(
        "SELECT c.relname, array_agg(t.tgname::text ORDER BY t.tgname) AS names "
        "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE t.tgname LIKE 'trg_capture_%' GROUP BY c.relname")
    names = ["trg_capture_del", "trg_capture_ins", "trg_capture_trunc", "trg_capture_upd"]
    tables = {r["relname"]: r["names"] for r in rows}
    assert set(tables) == set(ROW_KEYS) | {"taggables", "meta"} | {f"nodes_p{i}" for i in range(8)}
    assert all(found == names for found in tables.values())


async def test_a_write_naming_a_partition_is_captured(
    pool: asyncpg.Pool, pipeline: Pipeline, sql: asyncpg.Connection, world: dict[str, Any]
) -> None:
    partition = await sql.fetchval("SELECT tableoid::regclass::text FROM nodes WHERE id = $1",
                                   world["post"])
    assert partition.startswith("nodes_p")
    await sql.execute(f"UPDATE {partition} SET title = 'Via the partition' WHERE id = $1",
                      world["post"])
    await pipeline.settle()
    assert (await doc(pool, "content", world["post"]))["title"] == "Via the partition"  # type: ignore[index]
