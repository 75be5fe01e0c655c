"""Backend-specific behaviour outside the conformance table: odd user text never crashes
either backend, Tantivy refuses currencies it does not index (a 4xx for the API), a reader
without any index answers empty and not ready, and an edit reaches both backends."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from core_write.errors import ValidationFailed
from core_write.services import catalog
from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer.tantivy.config import TantivyConfig
from indexer.tantivy.follower import TantivyFollower
from indexer.tantivy.reader import TantivyReader
from search_api.backends import SearchBackend
from search_api.backends.postgres import PostgresBackend
from search_api.backends.tantivy import TantivyBackend
from search_api.model import SearchQuery
from search_api.scope import SearchScope
from tests.builders import make_stocked_variant, make_tenant
from tests.pipeline import Pipeline
from tests.waiting import wait_until

ODD_TEXT = ["!!!", '"unclosed', "-", "a OR", "title:x AND", "*", "((", "ü ß 😀", "x" * 256]


@pytest.fixture
def config(tmp_path: Path) -> TantivyConfig:
    return TantivyConfig(index_dir=str(tmp_path / "tantivy"), writer_heap_mb=32,
                         currencies=("EUR", "USD"))


@pytest.fixture
async def engine(pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings,
                 config: TantivyConfig) -> AsyncIterator[tuple[TantivyFollower, TantivyReader]]:
    async with TantivyFollower(pool, redis_client, settings, config) as follower, \
            TantivyReader(config, redis_client, settings.stream_prefix) as reader:
        yield follower, reader


async def test_an_edit_reaches_both_backends_and_odd_text_is_harmless(
    core: CoreWrite, pool: asyncpg.Pool, pipeline: Pipeline,
    engine: tuple[TantivyFollower, TantivyReader],
) -> None:
    follower, reader = engine
    shop = await make_tenant(core)
    variant = await make_stocked_variant(core, shop["id"], price=1200, currency="EUR")
    pid = variant["product_id"]
    await core.call(catalog.update_product, shop["id"], pid, {"title": "Copper kettle"})
    await core.call(catalog.publish_product, shop["id"], pid)
    await pipeline.settle()
    await follower.drain_once()
    scope = SearchScope(tenant_id=shop["id"])
    backends: list[SearchBackend] = [PostgresBackend(pool), TantivyBackend(reader)]

    async def found() -> bool:
        await reader.refresh(force=True)
        results = [await b.search(SearchQuery(q="kettle"), scope) for b in backends]
        return all([h.id for h in r.hits] == [pid] for r in results)

    await wait_until(found, timeout=5, what="the kettle in both backends")
    for backend in backends:
        hit = (await backend.search(SearchQuery(q="kettle"), scope)).hits[0]
        assert hit.document["prices"] == {"EUR": {"min": 1200, "max": 1200}}
        assert hit.document["title"] == "Copper kettle"
        for text in ODD_TEXT:
            result = await backend.search(SearchQuery(q=text, highlight=True), scope)
            assert result.total == len(result.hits) <= 1
            await backend.suggest("product", text, scope)


async def test_tantivy_refuses_a_currency_it_does_not_index(
    pool: asyncpg.Pool, engine: tuple[TantivyFollower, TantivyReader], core: CoreWrite,
) -> None:
    _, reader = engine
    shop = await make_tenant(core)
    scope = SearchScope(tenant_id=shop["id"])
    backend = TantivyBackend(reader)
    for query, field in [
        (SearchQuery(sort="price:asc", currency="GBP"), "currency"),
        (SearchQuery(facets=["price"], currency="GBP"), "currency"),
        (SearchQuery.model_validate({"filter": {"price": {"currency": "GBP", "min": 1}}}),
         "filter.price.currency"),
    ]:
        with pytest.raises(ValidationFailed) as err:
            await backend.search(query, scope)
        assert err.value.field == field
    # postgres keeps every currency
    result = await PostgresBackend(pool).search(
        SearchQuery(sort="price:asc", currency="GBP", facets=["price"]), scope)
    assert result.total == 0 and result.facets == {"price": {}}


async def test_a_reader_without_an_index_answers_empty_and_not_ready(
    redis_client: aioredis.Redis, config: TantivyConfig, stream_prefix: str,
    pool: asyncpg.Pool,
) -> None:
    async with TantivyReader(config, redis_client, stream_prefix) as reader:
        backend = TantivyBackend(reader)
        scope = SearchScope(tenant_id=uuid.UUID("01900000-0000-7000-8000-00000000000a"))
        result = await backend.search(SearchQuery(facets=["tags"]), scope)
        assert result.total == 0 and result.facets == {"tags": {}}
        assert result.backend == "tantivy"
        assert await backend.suggest("product", "kettle", scope) == []
        assert not await backend.ready()
    assert await PostgresBackend(pool).ready()
