"""A small demo data set behind a real API (Tantivy backend) on a free port, for the tests of
what a newcomer sees: README's examples and the preview page in a browser.

The catalog is the first products of the default demo (same seed, same tenants: the demo
generator writes products first, so `--products 2000` holds these 90), so a query that finds
something here finds it in `./run demo` too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from core_write.services import users
from core_write.settings import Settings
from indexer.tantivy.engine import tantivy_config
from indexer.tantivy.follower import TantivyFollower
from rustok_search import demo_writer as demo
from search_api.app import create_app
from search_api.auth import create_key
from tests.api_fixtures import api_settings
from tests.builders import FAST_HASHER
from tests.pipeline import Pipeline
from tests.waiting import wait_until

DEMO = demo.DemoSpec(products=90, nodes=45, tenants=3, seed=42, concurrency=3)


@dataclass
class DemoApi:
    client: TestClient[Any, Any]
    url: str
    key: str
    """A search key of tenant demo-0."""
    pool: asyncpg.Pool

    async def get(self, path: str) -> dict[str, Any]:
        resp = await self.client.get(path, headers={"Authorization": f"Bearer {self.key}"})
        body: dict[str, Any] = await resp.json()
        assert resp.status == 200, (path, body)
        return body


@pytest.fixture(name="demo_api")
async def demo_api_fixture(pool: asyncpg.Pool, pipeline: Pipeline, redis_client: aioredis.Redis,
                           settings: Settings, tmp_path: Path, request: pytest.FixtureRequest,
                           monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DemoApi]:
    """The API with the backend named by an indirect parameter (default: Tantivy)."""
    monkeypatch.setattr(users, "hasher", FAST_HASHER)
    await demo.load_demo(pool, DEMO)
    await pipeline.settle()
    backend = getattr(request, "param", "tantivy")
    conf = api_settings(settings, search_backend=backend, tantivy_dir=str(tmp_path / "tv"),
                        api_request_timeout_ms=10_000)
    async with TantivyFollower(pool, redis_client, conf, tantivy_config(conf)) as follower:
        while await follower.drain_once():
            pass
    key, _ = await create_key(pool, "demo-0", "search")
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(conf), host="127.0.0.1"))
    await client.start_server()
    api = DemoApi(client, str(client.make_url("")).rstrip("/"), key, pool)
    published = await pool.fetchval(
        "SELECT count(*) FROM commerce_products p JOIN tenants t ON t.id = p.tenant_id "
        "WHERE t.slug = 'demo-0' AND p.status = 'published'")

    async def searchable() -> bool:
        return bool((await api.get("/v1/search/products?per_page=1"))["total"] == published)

    try:
        await wait_until(searchable, timeout=20, what="the demo catalog in the API")
        yield api
    finally:
        await client.close()
