"""The bench catalog loader writes the same source rows as the demo loader through the services:
a real reindex of it leaves no drift, and its documents and counters equal the services'."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from bench.catalog import load_catalog
from core_write.db import create_pool, with_database
from core_write.services import users
from core_write.settings import Settings
from indexer.reindex import Reindexer, Scope
from indexer.verify import verify_postgres
from rustok_search import demo_writer as demo
from tests.builders import FAST_HASHER
from tests.conftest import BASE_DSN, _drop

SIZE = {"products": 60, "nodes": 30, "tenants": 2, "seed": 3}

PRODUCT_DOCS = """
    SELECT t.slug, d.handle, d.title, d.subtitle, d.description, d.status, d.prices,
           d.currencies, d.total_stock, d.has_stock,
           ARRAY(SELECT c->>'handle' FROM jsonb_array_elements(d.categories) c) AS categories,
           d.tags, d.meta_title, d.meta_description, d.search_vector::text,
           d.published_at IS NULL AS unpublished, d.thumbnail, d.skus, d.options,
           d.option_values, d.identifiers
    FROM index_products d JOIN tenants t ON t.id = d.tenant_id"""
CONTENT_DOCS = """
    SELECT t.slug AS tenant, d.kind, d.title, d.slug, d.excerpt, d.body_preview, d.status,
           d.author_name, d.category_slug, d.tags, d.reply_count, d.meta_title,
           d.search_vector::text, d.parent_id IS NULL AS root
    FROM index_content d JOIN tenants t ON t.id = d.tenant_id"""
COUNTERS = """
    SELECT 'tag', t.slug, g.slug, g.use_count FROM tags g JOIN tenants t ON t.id = g.tenant_id
    UNION ALL
    SELECT 'category', t.slug, c.slug, c.node_count
    FROM categories c JOIN tenants t ON t.id = c.tenant_id"""


@pytest.fixture
async def bulk_dsn() -> AsyncIterator[str]:
    """A database the loader creates and migrates itself."""
    name = f"bench_test_{uuid.uuid4().hex[:10]}"
    yield with_database(BASE_DSN, name)
    await _drop(name)


async def _reindexed(pool: asyncpg.Pool, settings: Settings) -> None:
    job = await Reindexer(pool, settings).run(Scope())
    assert job["state"] == "succeeded", job["error"]


async def _rows(pool: asyncpg.Pool, sql: str) -> list[tuple[object, ...]]:
    return sorted((tuple(r) for r in await pool.fetch(sql)), key=repr)


async def test_bulk_catalog_reindexes_clean_and_equals_the_services_catalog(
    bulk_dsn: str, pool: asyncpg.Pool, settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = await load_catalog(bulk_dsn, SIZE["products"], SIZE["nodes"], SIZE["tenants"],
                                SIZE["seed"], connections=2, chunk=7)
    assert (report.products, report.nodes, report.tenants) == (60, 30, 2)
    monkeypatch.setattr(users, "hasher", FAST_HASHER)
    bulk, services = await create_pool(bulk_dsn, max_size=4), pool
    try:
        await demo.load_demo(services, demo.DemoSpec(**SIZE))
        await _reindexed(bulk, settings)
        await _reindexed(services, settings)
        for doc_type in ("product", "content"):
            drift = await verify_postgres(bulk, doc_type)
            assert drift.total == 0, drift.summary()
        assert await bulk.fetchval("SELECT count(*) FROM index_products") == 60 \
            == await bulk.fetchval("SELECT count(*) FROM commerce_products")
        assert await bulk.fetchval("SELECT count(*) FROM index_content") == 30
        assert await bulk.fetchval("SELECT count(*) FROM outbox") == 0
        for sql in (PRODUCT_DOCS, CONTENT_DOCS, COUNTERS):
            assert await _rows(bulk, sql) == await _rows(services, sql)
    finally:
        await bulk.close()
