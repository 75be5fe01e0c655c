"""Generation rebuilds under concurrent changes: the follower keeps the live generation fresh
while a new one is bulk-loaded, the switch is atomic for readers, and changes made during the
build are in the new generation; plus the engine wiring that bootstraps an empty directory."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from core_write.resources import Resources
from core_write.settings import Settings
from indexer import index_rows
from indexer.follower import RebuildRunning
from indexer.tantivy.config import TantivyConfig
from indexer.tantivy.engine import TantivyIds, run_tantivy_follower
from indexer.tantivy.follower import TantivyFollower
from indexer.tantivy.reader import TantivyReader
from tests.integration.test_tantivy_follower import (
    A,
    delete_product,
    product_row,
    put_product,
    upsert,
)
from tests.tantivy_search import count, get, hit_ids, titles
from tests.waiting import wait_until


@pytest.fixture
def config(tmp_path: Path) -> TantivyConfig:
    return TantivyConfig(index_dir=str(tmp_path / "tantivy"), writer_heap_mb=32)


async def expected_versions(pool: asyncpg.Pool) -> dict[str, int]:
    rows = await pool.fetch(
        "SELECT product_id, version FROM index_products WHERE tenant_id = $1", A)
    return {str(r["product_id"]): r["version"] for r in rows}


async def test_rebuild_under_concurrent_changes_switches_atomically(
    pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings,
    config: TantivyConfig, stream_prefix: str,
) -> None:
    rows = [await put_product(pool, product_row(title=f"Item number {i}")) for i in range(59)]
    rows.sort(key=lambda r: r["product_id"])
    renamed, deleted = rows[0], rows[1]  # both in the first page the rebuild reads
    anchor = await put_product(pool, product_row(title="Stable anchor",
                                                 product_id=uuid.UUID(int=2**128 - 1)))
    assert anchor["product_id"] > renamed["product_id"]  # in the last page
    stop = asyncio.Event()
    async with TantivyFollower(pool, redis_client, settings, config) as follower, \
            TantivyReader(config, redis_client, stream_prefix) as reader:
        runner = asyncio.create_task(follower.run(stop))

        async def all_live() -> bool:
            return await count(reader, A) == 60

        await wait_until(all_live, timeout=10, interval=0.01, what="the live generation")
        assert reader.generation("product") == "gen-1"

        misses: list[str] = []
        probing = asyncio.Event()
        probes = 0

        async def probe() -> None:
            nonlocal probes
            while not probing.is_set():
                if not await hit_ids(reader, A, "anchor"):
                    misses.append("anchor")
                if await get(reader, A, renamed["product_id"]) is None:
                    misses.append("renamed")
                probes += 1
                await asyncio.sleep(0)  # yield to the rebuild, not a synchronization

        async def pages() -> AsyncIterator[Sequence[Mapping[str, Any]]]:
            first = True
            async for page in index_rows.stream_rows(pool, "product", 20):
                yield page
                if first:  # the first page is loaded: change docs it held, add one
                    first = False
                    await put_product(pool, dict(renamed, title="Renamed thing", version=2))
                    await delete_product(pool, deleted)
                    await put_product(pool, product_row(title="Fresh arrival"))

                    async def applied_live() -> bool:
                        return (bool(await hit_ids(reader, A, "renamed"))
                                and bool(await hit_ids(reader, A, "fresh"))
                                and await get(reader, A, deleted["product_id"]) is None)

                    await wait_until(applied_live, timeout=10, interval=0.01,
                                     what="the follower to apply changes to the live gen")

        prober = asyncio.create_task(probe())
        try:
            name = await follower.rebuild("product", pages())
            assert name == "gen-2" and follower.stores["product"].current() == "gen-2"
            assert follower.generation("product") == "gen-2"

            async def switched() -> bool:
                return reader.generation("product") == "gen-2"

            await wait_until(switched, timeout=5, interval=0.01, what="the reader to switch")
        finally:
            probing.set()
            await prober
        assert misses == [] and probes > 10, (misses, probes)
        assert await titles(reader, A, "renamed") == {"Renamed thing"}
        assert await titles(reader, A, "fresh") == {"Fresh arrival"}
        assert await get(reader, A, deleted["product_id"]) is None
        assert await reader.ids(A) == await expected_versions(pool)

        # the new generation takes the queue; a second rebuild prunes the oldest generation
        late = await put_product(pool, product_row(title="After the switch"))

        async def late_visible() -> bool:
            return await get(reader, A, late["product_id"]) is not None

        await wait_until(late_visible, timeout=5, interval=0.01, what="a post-switch change")
        assert await follower.rebuild("product", index_rows.stream_rows(pool, "product")) == "gen-3"
        assert follower.stores["product"].generations() == ["gen-2", "gen-3"]

        async def on_gen3() -> bool:
            return (reader.generation("product") == "gen-3"
                    and await reader.ids(A) == await expected_versions(pool))

        await wait_until(on_gen3, timeout=5, interval=0.01, what="the third generation")
        stop.set()
        await asyncio.wait_for(runner, timeout=5)


async def test_a_failed_rebuild_leaves_the_live_generation(
    pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings,
    config: TantivyConfig,
) -> None:
    await put_product(pool, product_row(title="Survivor"))
    async with TantivyFollower(pool, redis_client, settings, config) as follower:
        await follower.drain_once()
        gate = asyncio.Event()

        async def broken() -> AsyncIterator[Sequence[Mapping[str, Any]]]:
            yield await pool.fetch("SELECT * FROM index_products")
            await gate.wait()
            raise RuntimeError("source went away")

        first = asyncio.create_task(follower.rebuild("product", broken()))

        async def started() -> bool:
            return len(follower.stores["product"].generations()) == 2

        await wait_until(started, timeout=5, interval=0.01, what="the rebuild to start")
        with pytest.raises(RebuildRunning):
            await follower.rebuild("product", broken())
        gate.set()
        with pytest.raises(RuntimeError):
            await first
        store = follower.stores["product"]
        assert store.current() == "gen-1" and store.generations() == ["gen-1"]
        await put_product(pool, product_row(title="Still following"))
        assert await follower.drain_once() == 1


async def test_the_engine_bootstraps_an_empty_directory_from_the_index_tables(
    pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings, tmp_path: Path,
) -> None:
    for i in range(25):  # rows that were never queued for tantivy
        await upsert(pool, "index_products", "product_id", product_row(title=f"Old {i}"))
    res = Resources(settings.model_copy(update={"tantivy_dir": str(tmp_path / "t")}), pool,
                    redis_client)
    stop = asyncio.Event()
    runner = asyncio.create_task(run_tantivy_follower(res, stop))
    ids = TantivyIds(res.settings, redis_client)
    try:
        new = await put_product(pool, product_row(title="Queued meanwhile"))

        async def converged() -> bool:
            versions = await ids.versions("product", A)
            return str(new["product_id"]) in versions and versions == await expected_versions(
                pool)

        await wait_until(converged, timeout=20, interval=0.05, what="the bootstrap rebuild")
        marker = tmp_path / "t" / "product" / "gen-2" / "INCOMPLETE"
        assert (tmp_path / "t" / "product" / "CURRENT").read_text() == "gen-2\n"
        assert not marker.exists()
    finally:
        stop.set()
        await asyncio.wait_for(runner, timeout=10)
        ids.close()
