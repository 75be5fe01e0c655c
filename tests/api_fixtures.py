"""Fixtures and a test double for the HTTP API tests: `CannedBackend` answers every search
with fixed results so the tests exercise routing, auth and errors only (never relevance).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from core_write.resources import Resources
from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer.model import DocType
from search_api.app import create_app
from search_api.auth import create_key
from search_api.model import SearchQuery
from search_api.results import Hit, SearchResult, Suggestion
from search_api.scope import SearchScope
from tests.builders import make_tenant
from tests.pipeline import Pipeline

ORIGIN = "https://shop.example"


class CannedBackend:
    """TEST DOUBLE of the SearchBackend protocol: canned answers, records every call."""

    name = "canned"

    def __init__(self) -> None:
        self.calls: list[tuple[SearchQuery, SearchScope]] = []
        self.suggest_calls: list[tuple[DocType, str, SearchScope, int]] = []
        self.fail: BaseException | None = None
        self.delay = 0.0
        self.is_ready = True
        self.caught_up_calls = 0
        self.facets: dict[str, dict[str, int]] = {}
        """Facet counts the canned result carries (for the labelled facet shape)."""

    async def search(self, query: SearchQuery, scope: SearchScope) -> SearchResult:
        self.calls.append((query, scope))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        hit = Hit(id=uuid.UUID(int=1), score=1.0,
                  document={"title": "Canned", "tenant_id": str(scope.tenant_id)})
        return SearchResult(hits=[hit], total=1, page=query.page, per_page=query.per_page,
                            facets=self.facets, backend=self.name)

    async def suggest(self, doc_type: DocType, prefix: str, scope: SearchScope,
                      limit: int = 8) -> list[Suggestion]:
        self.suggest_calls.append((doc_type, prefix, scope, limit))
        return [Suggestion(id=uuid.UUID(int=2), title=f"{prefix}xyz",
                           highlighted=f"<mark>{prefix}</mark>xyz")]

    async def ready(self) -> bool:
        return self.is_ready

    async def caught_up(self) -> None:
        self.caught_up_calls += 1


@dataclass
class Api:
    client: TestClient[Any, Any]
    backend: CannedBackend
    settings: Settings
    tenants: dict[str, dict[str, Any]]
    keys: dict[str, str] = field(default_factory=dict)
    """`a.search`, `a.admin`, `b.search`, `b.admin`, `operator` → the raw key."""

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


def api_settings(settings: Settings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"search_backend": "postgres", "api_cors_origins": (ORIGIN,),
                              "api_request_timeout_ms": 3000, "api_max_body_bytes": 4096,
                              "ready_max_lag_seconds": 30.0}
    values.update(overrides)
    return settings.model_copy(update=values)


@pytest.fixture(name="api")
async def api_fixture(settings: Settings, core: CoreWrite) -> AsyncIterator[Api]:
    backend = CannedBackend()

    def factory(_settings: Settings, _resources: Resources) -> CannedBackend:
        return backend

    conf = api_settings(settings)
    tenants = {"a": await make_tenant(core), "b": await make_tenant(core)}
    # no indexer runs here: count the tenants' events as indexed, or their searches would be
    # answered stale (and /readyz not ready) once they are SEARCH_STALE_AFTER_SECONDS old
    await core.pool.execute("UPDATE outbox SET indexed_at = clock_timestamp()")
    app = create_app(conf, factory, backend_name=backend.name)
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    keys: dict[str, str] = {}
    for slug, tenant in tenants.items():
        for role in ("search", "admin"):
            keys[f"{slug}.{role}"], _ = await create_key(core.pool, tenant["slug"], role)
    keys["operator"], _ = await create_key(core.pool, None, "operator")
    try:
        yield Api(client, backend, conf, tenants, keys)
    finally:
        await client.close()


async def indexed_catalog(settings: Settings, core: CoreWrite, pipeline: Pipeline,
                          redis: aioredis.Redis) -> dict[str, str]:
    """The conformance catalog written for a new tenant, indexed into the index tables and
    drained into the Tantivy index at `settings.tantivy_dir`; returns an `admin` key of the
    tenant and an `operator` key."""
    from indexer.tantivy.engine import tantivy_config
    from indexer.tantivy.follower import TantivyFollower
    from tests.integration.test_conformance import NODES, PRODUCTS, _write_tenant

    tenant = await make_tenant(core)
    await _write_tenant(core, tenant["id"], {}, PRODUCTS, NODES)
    await pipeline.settle()
    async with TantivyFollower(core.pool, redis, settings, tantivy_config(settings)) as follower:
        await follower.drain_once()
    return {"admin": (await create_key(core.pool, tenant["slug"], "admin"))[0],
            "operator": (await create_key(core.pool, None, "operator"))[0]}
