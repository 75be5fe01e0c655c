"""From a core_write call to the index tables, for every kind of change and each fan-out."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from core_write.services import (
    catalog,
    commerce_categories,
    content,
    inventory,
    seo,
    taxonomy,
    tenants,
    users,
)
from core_write.unit import CoreWrite
from indexer.engine_queue import read
from tests.builders import (
    FAST_HASHER,
    make_node,
    make_stock_location,
    make_stocked_variant,
    make_tag,
    make_tenant,
    make_user,
)
from tests.pipeline import Pipeline


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "hasher", FAST_HASHER)


async def product_doc(pool: asyncpg.Pool, product_id: uuid.UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM index_products WHERE product_id = $1", product_id)
    return dict(row) if row else None


async def content_doc(pool: asyncpg.Pool, node_id: uuid.UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM index_content WHERE node_id = $1", node_id)
    return dict(row) if row else None


@pytest.fixture
async def shop(core: CoreWrite) -> dict[str, Any]:
    return await make_tenant(core, settings={"language": "english"})


async def test_product_document_denormalizes_everything(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, shop: dict[str, Any]
) -> None:
    tid = shop["id"]
    north, south = (await make_stock_location(core, tid), await make_stock_location(core, tid))
    variant = await make_stocked_variant(core, tid, price=1500, currency="EUR",
                                         stock={north["id"]: 4, south["id"]: 3})
    pid = variant["product_id"]
    await core.call(catalog.update_product, tid, pid,
                    {"title": "Waterproof hiking boots", "description": "Leather uppers"})
    await core.call(catalog.set_price, tid, variant["id"], "USD", 1800)
    cheap = (await core.call(catalog.create_variant, tid, pid,
                             {"title": "Kids", "manage_inventory": False})).value
    await core.call(catalog.set_price, tid, cheap["id"], "EUR", 900)
    category = (await core.call(commerce_categories.create_category, tid,
                                {"name": "Footwear", "handle": "footwear"})).value
    await core.call(commerce_categories.link_product_category, tid, pid, category["id"])
    tag = await make_tag(core, tid, name="bestseller")
    await core.call(taxonomy.attach_tag, tid, tag["id"], "product", pid)
    await core.call(seo.set_meta, tid, "product", pid, {"title": "Boots | Shop"})
    await pipeline.settle()
    doc = await product_doc(pool, pid)
    assert doc is not None
    assert doc["tenant_id"] == tid and doc["title"] == "Waterproof hiking boots"
    assert doc["prices"] == {"EUR": {"min": 900, "max": 1500}, "USD": {"min": 1800, "max": 1800}}
    assert doc["currencies"] == ["EUR", "USD"]
    assert doc["total_stock"] == 7 and doc["has_stock"] is True
    assert doc["categories"] == [{"id": str(category["id"]), "name": "Footwear",
                                  "handle": "footwear"}]
    assert doc["category_ids"] == [category["id"]]
    assert doc["tags"] == ["bestseller"] and doc["tag_ids"] == [tag["id"]]
    assert doc["meta_title"] == "Boots | Shop"
    vector = await pool.fetchval(
        "SELECT search_vector::text FROM index_products WHERE product_id = $1", pid)
    assert "'waterproof':1A" in vector and "'footwear'" in vector and "'leather':" in vector
    queued = [e for e in await read(pool, "tantivy", 0, 100_000) if e.doc_id == pid]
    assert len(queued) == 1


async def test_stock_fan_out_from_inventory_levels_and_reservations(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, shop: dict[str, Any]
) -> None:
    tid = shop["id"]
    depot = await make_stock_location(core, tid)
    variant = await make_stocked_variant(core, tid, stock={depot["id"]: 2})
    pid = variant["product_id"]
    await pipeline.settle()
    assert (await product_doc(pool, pid) or {})["total_stock"] == 2
    await core.call(inventory.set_stock_level, tid, variant["inventory_item_id"], depot["id"], 0)
    await pipeline.settle()
    doc = await product_doc(pool, pid)
    assert doc is not None and doc["total_stock"] == 0 and doc["has_stock"] is False
    await core.call(catalog.update_variant, tid, variant["id"], {"allow_backorder": True})
    await pipeline.settle()
    assert (await product_doc(pool, pid) or {})["has_stock"] is True


async def test_category_rename_and_delete_reach_every_product_in_it(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, shop: dict[str, Any]
) -> None:
    tid = shop["id"]
    category = (await core.call(commerce_categories.create_category, tid,
                                {"name": "Lamps", "handle": "lamps"})).value
    products = []
    for _ in range(3):
        variant = await make_stocked_variant(core, tid)
        await core.call(commerce_categories.link_product_category, tid, variant["product_id"],
                        category["id"])
        products.append(variant["product_id"])
    await pipeline.settle()
    await core.call(commerce_categories.update_category, tid, category["id"],
                    {"name": "Lighting"})
    await pipeline.settle()
    for pid in products:
        assert (await product_doc(pool, pid) or {})["categories"][0]["name"] == "Lighting"
    await core.call(commerce_categories.delete_category, tid, category["id"])
    await pipeline.settle()
    for pid in products:
        doc = await product_doc(pool, pid)
        assert doc is not None and doc["categories"] == [] and doc["category_ids"] == []


async def test_tag_rename_and_delete_reach_products_and_nodes(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, shop: dict[str, Any]
) -> None:
    tid = shop["id"]
    tag = await make_tag(core, tid, name="eco")
    variant = await make_stocked_variant(core, tid)
    node = await make_node(core, tid)
    await core.call(taxonomy.attach_tag, tid, tag["id"], "product", variant["product_id"])
    await core.call(taxonomy.attach_tag, tid, tag["id"], "node", node["id"])
    await core.call(taxonomy.update_tag, tid, tag["id"], {"name": "green"})
    await pipeline.settle()
    assert (await product_doc(pool, variant["product_id"]) or {})["tags"] == ["green"]
    assert (await content_doc(pool, node["id"]) or {})["tags"] == ["green"]
    await core.call(taxonomy.delete_tag, tid, tag["id"])
    await pipeline.settle()
    assert (await product_doc(pool, variant["product_id"]) or {})["tags"] == []
    assert (await content_doc(pool, node["id"]) or {})["tag_ids"] == []


async def test_content_document_and_its_fan_outs(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, shop: dict[str, Any]
) -> None:
    tid = shop["id"]
    author = await make_user(core, tid, display_name="Ada")
    category = (await core.call(taxonomy.create_category, tid, {"name": "Guides"})).value
    post = await make_node(core, tid, title="Caring for leather", author_id=author["id"],
                           category_id=category["id"], status="published",
                           body={"body": "Use a soft brush and wax twice a year."})
    await pipeline.settle()
    doc = await content_doc(pool, post["id"])
    assert doc is not None
    assert (doc["author_name"], doc["category_name"], doc["kind"]) == ("Ada", "Guides", "post")
    assert doc["body_preview"].startswith("Use a soft brush")
    # a comment refreshes its parent's reply count
    comment = await make_node(core, tid, kind="comment", parent_id=post["id"],
                              body={"body": "Thanks!"}, status="published")
    await pipeline.settle()
    assert (await content_doc(pool, post["id"]) or {})["reply_count"] == 1
    # author rename, category rename, body edit, meta
    await core.call(users.update_user, tid, author["id"], {"display_name": "Ada L."})
    await core.call(taxonomy.update_category, tid, category["id"], {"name": "How-to"})
    await core.call(content.set_body, tid, post["id"], {"body": "Condition monthly."})
    await core.call(seo.set_meta, tid, "node", post["id"], {"title": "Leather care"})
    await pipeline.settle()
    doc = await content_doc(pool, post["id"])
    assert doc is not None
    assert (doc["author_name"], doc["category_name"]) == ("Ada L.", "How-to")
    assert doc["body_preview"] == "Condition monthly." and doc["meta_title"] == "Leather care"
    # deleting the comment drops its document and the parent's count
    await core.call(content.delete_node, tid, comment["id"])
    await pipeline.settle()
    assert await content_doc(pool, comment["id"]) is None
    assert (await content_doc(pool, post["id"]) or {})["reply_count"] == 0


async def test_deletes_remove_documents(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, shop: dict[str, Any]
) -> None:
    tid = shop["id"]
    variant = await make_stocked_variant(core, tid)
    node = await make_node(core, tid)
    await pipeline.settle()
    assert await product_doc(pool, variant["product_id"]) is not None
    await core.call(catalog.delete_product, tid, variant["product_id"])
    await core.call(content.delete_node, tid, node["id"])
    await pipeline.settle()
    assert await product_doc(pool, variant["product_id"]) is None
    assert await content_doc(pool, node["id"]) is None
    gone = await read(pool, "tantivy", 0, 100_000)
    assert {e.doc_id for e in gone} >= {variant["product_id"], node["id"]}


async def test_unpublished_sources_leave_when_drafts_are_not_indexed(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, shop: dict[str, Any]
) -> None:
    pipeline.consumer.settings = pipeline.consumer.settings.model_copy(
        update={"index_drafts": False})
    tid = shop["id"]
    node = await make_node(core, tid, status="published")
    draft = await make_node(core, tid)
    await pipeline.settle()
    assert await content_doc(pool, node["id"]) is not None
    assert await content_doc(pool, draft["id"]) is None
    await core.call(content.unpublish_node, tid, node["id"])
    await pipeline.settle()
    assert await content_doc(pool, node["id"]) is None


async def test_tenant_language_change_and_tenant_delete(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline
) -> None:
    shop = await make_tenant(core, settings={"language": "simple"})
    other = await make_tenant(core)
    mine = await make_node(core, shop["id"], title="Running shoes")
    theirs = await make_node(core, other["id"], title="Running shoes")
    await pipeline.settle()
    before = await pool.fetchval(
        "SELECT search_vector::text FROM index_content WHERE node_id = $1", mine["id"])
    assert "'running'" in before
    await core.call(tenants.update_tenant, shop["id"], {"settings": {"language": "english"}})
    await pipeline.settle()
    after = await pool.fetchval(
        "SELECT search_vector::text FROM index_content WHERE node_id = $1", mine["id"])
    assert "'run'" in after  # stemmed by the english configuration now
    await core.call(tenants.delete_tenant, shop["id"])
    await pipeline.settle()
    assert await content_doc(pool, mine["id"]) is None
    assert await content_doc(pool, theirs["id"]) is not None


async def test_an_older_build_never_replaces_a_newer_one(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, shop: dict[str, Any]
) -> None:
    variant = await make_stocked_variant(core, shop["id"])
    await pipeline.settle()
    future = 2**62
    await pool.execute("UPDATE index_products SET version = $1, title = 'newer' "
                       "WHERE product_id = $2", future, variant["product_id"])
    await core.call(catalog.update_product, shop["id"], variant["product_id"], {"title": "x"})
    await pipeline.settle()
    doc = await product_doc(pool, variant["product_id"])
    assert doc is not None and doc["title"] == "newer" and doc["version"] == future


async def test_indexed_positions_are_recorded_for_read_your_writes(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline, shop: dict[str, Any]
) -> None:
    written = await core.call(catalog.create_product, shop["id"],
                              {"title": "Token test", "handle": "token-test"})
    assert written.token is not None
    row = await pool.fetchrow("SELECT indexed_at FROM outbox WHERE seq = $1", written.token)
    assert row is not None and row["indexed_at"] is None
    await pipeline.settle()
    assert await pool.fetchval("SELECT indexed_at FROM outbox WHERE seq = $1",
                               written.token) is not None
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE indexed_at IS NULL") == 0
