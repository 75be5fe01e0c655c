"""The real backends wired by `make_backend` (SEARCH_BACKEND) behind the HTTP API: the
Postgres backend answers a search over empty index tables, the Tantivy backend starts its
reader with the app and closes it at shutdown."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from core_write.services import catalog
from core_write.settings import Settings
from core_write.unit import CoreWrite
from search_api.app import create_app
from search_api.auth import create_key
from search_api.wiring import BACKEND
from tests.api_fixtures import api_settings
from tests.builders import make_tenant
from tests.pipeline import Pipeline


async def _client(settings: Settings) -> TestClient:  # type: ignore[type-arg]
    client: TestClient = TestClient(TestServer(create_app(settings)))  # type: ignore[type-arg]
    await client.start_server()
    return client


async def test_postgres_backend_serves_search(settings: Settings, core: CoreWrite) -> None:
    tenant = await make_tenant(core)
    key, _ = await create_key(core.pool, tenant["slug"], "search")
    client = await _client(api_settings(settings, search_backend="postgres"))
    try:
        assert client.app[BACKEND].name == "postgres"
        resp = await client.get("/v1/search/products?q=shoe",
                                headers={"Authorization": f"Bearer {key}"})
        body = await resp.json()
        assert resp.status == 200, body
        assert body["backend"] == "postgres" and body["total"] == 0
        resp = await client.get("/readyz")
        assert resp.status == 200, await resp.text()
    finally:
        await client.close()


async def test_tantivy_backend_opens_its_reader(settings: Settings, tmp_path: Path) -> None:
    conf = api_settings(settings, search_backend="tantivy", tantivy_dir=str(tmp_path))
    client = await _client(conf)
    try:
        backend = client.app[BACKEND]
        assert backend.name == "tantivy"
        resp = await client.get("/healthz")
        assert resp.status == 200
        resp = await client.get("/readyz")
        assert "backend" in (await resp.json())["checks"]
    finally:
        started = asyncio.get_running_loop().time()
        await client.close()  # bounded even if the reader ignores its first cancellation
        assert asyncio.get_running_loop().time() - started < 5


async def test_read_your_writes_through_the_real_pipeline(
    settings: Settings, core: CoreWrite, pipeline: Pipeline
) -> None:
    tenant = await make_tenant(core)
    key, _ = await create_key(core.pool, tenant["slug"], "search")
    written = await core.call(catalog.create_product, tenant["id"], {
        "title": "Tokenized teapot", "handle": "tokenized-teapot", "status": "published"})
    client = await _client(api_settings(settings, search_backend="postgres"))
    try:
        url = f"/v1/search/products?q=teapot&min_token={written.token}"
        search = asyncio.create_task(
            client.get(url, headers={"Authorization": f"Bearer {key}"}))
        await pipeline.settle()  # the indexer reaches the token while the search waits
        resp = await search
        body = await resp.json()
        assert resp.status == 200, body
        assert body["stale"] is False
        assert [hit["document"]["title"] for hit in body["hits"]] == ["Tokenized teapot"]
    finally:
        await client.close()


async def test_the_server_ends_a_statement_that_outlives_its_request(
    settings: Settings, core: CoreWrite
) -> None:
    """A search whose client gave up (timed out, or vanished) must not keep a PostgreSQL
    backend busy: the API's connections carry a statement_timeout just past the request
    deadline, so the server itself ends the statement."""
    import asyncpg

    from search_api.wiring import RESOURCES, STATEMENT_GRACE_MS

    conf = api_settings(settings, api_request_timeout_ms=200)
    client = await _client(conf)
    try:
        pool = client.server.app[RESOURCES].pool
        limit = await pool.fetchval("SHOW statement_timeout")
        assert limit == f"{200 + STATEMENT_GRACE_MS}ms"
        try:
            await pool.fetchval("SELECT pg_sleep(30)")
        except asyncpg.QueryCanceledError as exc:
            assert "statement timeout" in str(exc)
        else:
            raise AssertionError("the 30 s statement was not ended by the server")
    finally:
        await client.close()
