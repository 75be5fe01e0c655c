"""Per-field weights (`field_weights`) on every backend: the default tiers rank a title match
above a tag match above a description match; a tenant that moves `description` to tier 1 and
`title` to tier 3 gets the reverse, identically on Postgres, Tantivy and (with a server at
MEILISEARCH_URL) Meilisearch, once the reindex job the change queued has run. Another tenant
keeps the default order. Content the same way (`body` above `title`)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from bench.lifecycle import meili_indexes
from core_write.services import content, taxonomy
from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer.jobs import held_job
from indexer.model.relevance import SearchSettings
from indexer.queries import QUERIES
from indexer.reindex import Reindexer
from indexer.tantivy.config import TantivyConfig
from indexer.tantivy.follower import TantivyFollower
from indexer.tantivy.reader import TantivyReader
from search_api import relevance_store as store
from search_api.backends import SearchBackend
from search_api.backends.meilisearch import MeilisearchBackend
from search_api.backends.postgres import PostgresBackend
from search_api.backends.tantivy import TantivyBackend
from search_api.model import SearchQuery
from search_api.scope import SearchScope
from tests.builders import make_product, make_tenant, make_user
from tests.pipeline import Pipeline

MEILISEARCH_URL = os.environ.get("MEILISEARCH_URL", "")

PRODUCTS = [
    # title, description, tags: "alpine" in one field of each
    ("Alpine jacket", "Warm and dry", []),
    ("Shell", "Light and thin", ["alpine"]),
    ("Fleece", "An alpine layer", []),
]
NODES = [("Alpine guide", "Read before you go"), ("Notes", "An alpine trip")]
WEIGHTS = {"products": {"description": 1, "title": 3},
           "content": {"body": 1, "title": 3}}


async def _shop(core: CoreWrite, tenant: uuid.UUID) -> dict[str, uuid.UUID]:
    ids: dict[str, uuid.UUID] = {}
    tag = (await core.call(taxonomy.create_tag, tenant, {"name": "alpine"})).value["id"]
    for title, description, tags in PRODUCTS:
        product = await make_product(core, tenant, title=title, description=description,
                                     status="published")
        ids[title] = uuid.UUID(str(product["id"]))
        for _ in tags:
            await core.call(taxonomy.attach_tag, tenant, tag, "product", product["id"])
    author = (await make_user(core, tenant, display_name="Ann"))["id"]
    for title, body in NODES:
        node = (await core.call(content.create_node, tenant, {
            "kind": "post", "title": title, "author_id": author, "status": "published",
            "body": {"body": body, "format": "plain"}})).value
        ids[title] = uuid.UUID(str(node["id"]))
    return ids


@contextlib.asynccontextmanager
async def _backends(pool: asyncpg.Pool, redis: aioredis.Redis, settings: Settings,
                    folder: Path) -> AsyncIterator[tuple[dict[str, SearchBackend],
                                                          TantivyFollower, Any]]:
    config = TantivyConfig(index_dir=str(folder), writer_heap_mb=32, currencies=("EUR",))
    async with TantivyFollower(pool, redis, settings, config) as tantivy, \
            TantivyReader(config, redis, settings.stream_prefix) as reader:
        backends: dict[str, SearchBackend] = {"postgres": PostgresBackend(pool),
                                              "tantivy": TantivyBackend(reader)}
        if not MEILISEARCH_URL:
            await tantivy.drain_once()
            yield backends, tantivy, None
            return
        async with meili_indexes(pool, redis, settings) as meili, \
                MeilisearchBackend(meili.config) as engine:
            await tantivy.drain_once()
            backends["meilisearch"] = engine
            yield backends, tantivy, meili


async def _order(backends: dict[str, SearchBackend], tenant: uuid.UUID, doc_type: str,
                 names: dict[uuid.UUID, str]) -> dict[str, list[str]]:
    query = SearchQuery.model_validate({"q": "alpine", "doc_type": doc_type})
    return {name: [names[hit.id] for hit in (await backend.search(
        query, SearchScope(tenant_id=tenant))).hits] for name, backend in backends.items()}


async def test_moving_fields_between_tiers_reorders_every_backend_alike(
    pool: asyncpg.Pool, core: CoreWrite, settings: Settings, redis_client: aioredis.Redis,
    pipeline: Pipeline, tmp_path: Path,
) -> None:
    conf = settings.model_copy(update={
        "meilisearch_url": MEILISEARCH_URL,
        "meilisearch_api_key": os.environ.get("MEILISEARCH_API_KEY", ""),
        "meilisearch_index_prefix": f"fw{uuid.uuid4().hex[:10]}",
        "engines": ("tantivy", "meilisearch") if MEILISEARCH_URL else ("tantivy",)})
    shop, other = (await make_tenant(core))["id"], (await make_tenant(core))["id"]
    ids = await _shop(core, shop)
    other_ids = await _shop(core, other)
    await pipeline.settle()
    names = {v: k for k, v in (*ids.items(), *other_ids.items())}
    default = {"product": ["Alpine jacket", "Shell", "Fleece"],
               "content": ["Alpine guide", "Notes"]}
    weighted = {"product": ["Fleece", "Shell", "Alpine jacket"],
                "content": ["Notes", "Alpine guide"]}
    async with _backends(pool, redis_client, conf, tmp_path) as (backends, tantivy, meili):
        for doc_type in ("product", "content"):
            assert await _order(backends, shop, doc_type, names) == dict.fromkeys(
                backends, default[doc_type])

        await store.replace_settings(pool, shop, SearchSettings.model_validate(
            {"field_weights": WEIGHTS}), "test")
        state = await store.weights_state(pool, shop)
        assert state["field_weights_live"] is False
        assert state["field_weights_job"]["state"] == "queued"
        async with held_job(pool, QUERIES["job_claim"]) as claimed:
            assert claimed is not None and claimed["tenant_id"] == shop \
                and claimed["doc_type"] is None  # both types changed
            done = await Reindexer(pool, conf).run_job(claimed)
        assert done["state"] == "succeeded"
        assert (await store.weights_state(pool, shop))["field_weights_live"] is True
        while await tantivy.drain_once():
            pass
        if meili is not None:
            await meili.indexes.refresh_relevance()  # what the follower does every second
            while await meili.drain_once():
                pass

        for doc_type in ("product", "content"):
            assert await _order(backends, shop, doc_type, names) == dict.fromkeys(
                backends, weighted[doc_type])
            # the other tenant keeps the default tiers
            assert await _order(backends, other, doc_type, names) == dict.fromkeys(
                backends, default[doc_type])

        # the same weights again: nothing to reindex
        await store.patch_settings(pool, shop, {"stop_words": ["the"]}, "test")
        assert await pool.fetchval("SELECT count(*) FROM index_jobs WHERE state = 'queued'") \
            == 0


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"products": {"price": 1}}, "field_weights.products.price", "Extra inputs"),
    ({"content": {"title": 4}}, "field_weights.content.title", "less than or equal to 3"),
    ({"products": {"title": "1"}}, "field_weights.products.title", "valid integer"),
    ({"pages": {}}, "field_weights.pages", "Extra inputs"),
])
def test_weights_name_the_bad_field(body: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        SearchSettings.model_validate({"field_weights": body})
    errors = raised.value.errors()  # type: ignore[attr-defined]
    assert [".".join(map(str, e["loc"])) for e in errors] == [field]
    assert message in errors[0]["msg"]
