"""The Tantivy follower end to end: index rows and engine_queue rows written with SQL, drained
into a real index in tmp_path, found through the API's Tantivy backend over a reader that
follows commits through Redis; deletes, re-queues racing the queue delete, tenant isolation,
the single-writer lock."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from pydantic import ValidationError

from core_write.errors import ValidationFailed
from core_write.settings import Settings
from indexer.engine_queue import QueueEntry, enqueue, read
from indexer.model import DocType
from indexer.tantivy.config import TantivyConfig
from indexer.tantivy.errors import WriterLocked
from indexer.tantivy.follower import TantivyFollower
from indexer.tantivy.reader import TantivyReader
from search_api.backends.tantivy import TantivyBackend
from tests.tantivy_search import count, get, hit_ids, search, titles
from tests.waiting import wait_until

A = uuid.UUID("01900000-0000-7000-8000-00000000000a")
B = uuid.UUID("01900000-0000-7000-8000-00000000000b")


# ---- builders (also used by test_tantivy_rebuild) --------------------------------------------
def product_row(tenant_id: uuid.UUID = A, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "product_id": uuid.uuid4(), "tenant_id": tenant_id, "title": "Plain product",
        "handle": f"p-{uuid.uuid4().hex[:8]}", "status": "published",
        "prices": {"EUR": {"min": 1000, "max": 1500}}, "currencies": ["EUR"],
        "total_stock": 3, "has_stock": True, "categories": [], "category_ids": [],
        "tags": [], "tag_ids": [], "created_at": datetime.now(UTC), "version": 1,
    }
    row.update(overrides)
    return row


async def upsert(pool: asyncpg.Pool, table: str, key: str, row: dict[str, Any]) -> None:
    """Insert or replace an index row (a fresh position each time, as the indexer does)."""
    cols = list(row)
    values = [json.dumps(v) if c in ("prices", "categories") else v for c, v in row.items()]
    casts = ["::jsonb" if c in ("prices", "categories") else "" for c in cols]
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c != key)
    await pool.execute(
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
        f"({', '.join(f'${i + 1}{cast}' for i, cast in enumerate(casts))}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {sets}, "
        "position = nextval('index_position_seq'), indexed_at = now()", *values)


async def queue(pool: asyncpg.Pool, doc_type: DocType, doc_id: uuid.UUID,
                tenant_id: uuid.UUID = A) -> None:
    """Queue a doc for tantivy; a doc still waiting moves to the back with a new seq."""
    await enqueue(pool, ["tantivy"], doc_type, [doc_id], [tenant_id], datetime.now(UTC))


async def put_product(pool: asyncpg.Pool, row: dict[str, Any]) -> dict[str, Any]:
    await upsert(pool, "index_products", "product_id", row)
    await queue(pool, "product", row["product_id"], row["tenant_id"])
    return row


async def delete_product(pool: asyncpg.Pool, row: dict[str, Any]) -> None:
    await pool.execute("DELETE FROM index_products WHERE product_id = $1", row["product_id"])
    await queue(pool, "product", row["product_id"], row["tenant_id"])


async def queued(pool: asyncpg.Pool) -> list[QueueEntry]:
    return await read(pool, "tantivy", 0, 100_000)


# ---- fixtures ------------------------------------------------------------------------------
@pytest.fixture
def config(tmp_path: Path) -> TantivyConfig:
    return TantivyConfig(index_dir=str(tmp_path / "tantivy"), writer_heap_mb=32,
                         currencies=("EUR", "USD"))


@pytest.fixture
async def follower(pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings,
                   config: TantivyConfig) -> AsyncIterator[TantivyFollower]:
    async with TantivyFollower(pool, redis_client, settings, config) as follower:
        yield follower


@pytest.fixture
async def reader(follower: TantivyFollower, redis_client: aioredis.Redis,
                 config: TantivyConfig, stream_prefix: str) -> AsyncIterator[TantivyReader]:
    # a separate set of index handles, following commits only through Redis
    async with TantivyReader(config, redis_client, stream_prefix) as reader:
        yield reader


# ---- tests ---------------------------------------------------------------------------------
async def test_drained_rows_are_searchable_with_filters(
    pool: asyncpg.Pool, follower: TantivyFollower, reader: TantivyReader,
) -> None:
    shoe = await put_product(pool, product_row(
        title="Red running shoe", tags=["sale"], version=4,
        prices={"EUR": {"min": 2000, "max": 2500}, "USD": {"min": 2100, "max": 2600}}))
    jacket = await put_product(pool, product_row(title="Blue rain jacket", has_stock=False))
    await put_product(pool, product_row(B, title="Red running shoe"))
    assert await follower.drain_once() == 3
    assert await queued(pool) == []
    assert follower.stats.commits == 1 and follower.stats.docs_applied == 3
    assert follower.document_counts() == {"product": 3, "content": 0}

    async def visible() -> bool:
        return await count(reader, A) == 2

    await wait_until(visible, timeout=5, interval=0.01, what="the commit to reach the reader")
    hits = (await search(reader, A, "running shoe")).hits
    assert [h.id for h in hits] == [shoe["product_id"]] and (hits[0].score or 0) > 0
    assert await titles(reader, A, "red", filters={"tags": ["sale", "new"]}) == {
        "Red running shoe"}
    assert await titles(reader, A, "", filters={"has_stock": False}) == {"Blue rain jacket"}
    assert await titles(reader, A, "", filters={"price": {"currency": "USD", "min": 2001}}) == {
        "Red running shoe"}
    assert await reader.ids(A) == {str(shoe["product_id"]): 4, str(jacket["product_id"]): 1}
    got = await get(reader, A, shoe["product_id"])
    assert got is not None and got["prices"]["EUR"]["max"] == 2500 and got["tags"] == ["sale"]
    assert await get(reader, B, shoe["product_id"]) is None


async def test_updates_and_deletes_reach_a_following_reader(
    pool: asyncpg.Pool, follower: TantivyFollower, reader: TantivyReader,
) -> None:
    row = await put_product(pool, product_row(title="Green tea"))
    gone = await put_product(pool, product_row(title="Green coffee"))
    await follower.drain_once()

    async def both() -> bool:
        return await titles(reader, A, "green") == {"Green tea", "Green coffee"}

    await wait_until(both, timeout=5, interval=0.01, what="both docs")
    reopens, reloads = reader.reopens, reader.reloads
    await put_product(pool, dict(row, title="Black tea", version=2))
    await delete_product(pool, gone)
    assert await follower.drain_once() == 2
    assert follower.stats.deletes == 1

    async def changed() -> bool:
        return await titles(reader, A, "tea OR coffee") == {"Black tea"}

    await wait_until(changed, timeout=5, interval=0.01, what="the update and the delete")

    async def reloaded() -> bool:
        return reader.reloads > reloads

    await wait_until(reloaded, timeout=5, interval=0.01, what="the reader to reload")
    assert reader.reopens == reopens  # the same generation, reloaded rather than reopened
    assert await reader.ids(A) == {str(row["product_id"]): 2}


async def test_a_requeue_during_the_commit_survives(
    pool: asyncpg.Pool, follower: TantivyFollower, reader: TantivyReader,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    row = await put_product(pool, product_row(title="First title"))
    original = follower._notify

    async def notify_then_change(doc_types: set[Any]) -> None:
        await original(doc_types)
        # between the commit and the queue delete: a newer change re-queues the doc
        await put_product(pool, dict(row, title="Second title", version=2))

    monkeypatch.setattr(follower, "_notify", notify_then_change)
    assert await follower.drain_once() == 1
    monkeypatch.setattr(follower, "_notify", original)
    left = await queued(pool)
    assert [e.doc_id for e in left] == [row["product_id"]]
    assert await follower.drain_once() == 1
    assert await queued(pool) == []

    async def newest() -> bool:
        return await titles(reader, A, "title") == {"Second title"}

    await wait_until(newest, timeout=5, interval=0.01, what="the re-queued change")


@pytest.mark.parametrize("text, finds_mine", [
    ("tenant_id:{B} OR title:shared", True), ("*", True), ("", True),
    ("shared^100 OR tenant_id:{B}^100", True), ('id:"{b_id}" OR shared', True),
    ("tenant_id:{B}", False), ("shared OR -shared", None), ("(", None),
    ("tenant_id:* OR shared", None),
])
async def test_no_query_text_reaches_another_tenant(
    pool: asyncpg.Pool, follower: TantivyFollower, reader: TantivyReader, text: str,
    finds_mine: bool | None,
) -> None:
    mine = await put_product(pool, product_row(A, title="shared words"))
    theirs = await put_product(pool, product_row(B, title="shared words"))
    await follower.drain_once()

    async def both_indexed() -> bool:
        return await count(reader, A) == 1 and await count(reader, B) == 1

    await wait_until(both_indexed, timeout=5, interval=0.01, what="both tenants")
    query = text.format(B=B, b_id=theirs["product_id"])
    try:
        hits = await hit_ids(reader, A, query)
        by_tag = await hit_ids(reader, A, query, filters={"tags": ["none"]})
    except ValidationFailed as exc:  # a query that cannot run is refused, never widened
        assert exc.field == "q"
    else:
        assert set(hits) <= {str(mine["product_id"])}
        assert by_tag == []
        if finds_mine is not None:
            assert bool(hits) is finds_mine
    with pytest.raises(ValidationError):  # no request field names a tenant
        await search(reader, A, "shared", filters={"tenant_id": str(B)})
    assert await get(reader, A, theirs["product_id"]) is None
    assert set(await reader.ids(A)) == {str(mine["product_id"])}


async def test_content_documents_and_malformed_rows(
    pool: asyncpg.Pool, follower: TantivyFollower, reader: TantivyReader,
) -> None:
    post: dict[str, Any] = {
        "node_id": uuid.uuid4(), "tenant_id": A, "kind": "post", "title": "Release notes",
        "status": "published", "body_preview": "The tantivy engine arrives",
        "created_at": datetime.now(UTC), "published_at": datetime.now(UTC), "version": 1,
    }
    await upsert(pool, "index_content", "node_id", post)
    await queue(pool, "content", post["node_id"])
    bad = await put_product(pool, product_row(title="Bad price",
                                              prices={"EUR": {"min": "ten", "max": 1}}))
    good = await put_product(pool, product_row(title="Good price"))
    assert await follower.drain_once() == 3  # the malformed row does not block the queue
    assert follower.stats.failed_docs == 1 and await queued(pool) == []

    async def indexed() -> bool:
        return bool(await hit_ids(reader, A, "engine", doc_type="content",
                                  filters={"kind": ["post"]}))

    await wait_until(indexed, timeout=5, interval=0.01, what="the post")
    assert await hit_ids(reader, A, "release", doc_type="content",
                         filters={"kind": ["page"]}) == []
    assert set(await reader.ids(A)) == {str(good["product_id"])}
    assert str(bad["product_id"]) not in await reader.ids(A)


async def test_a_second_follower_on_the_directory_fails_clearly(
    pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings,
    config: TantivyConfig, follower: TantivyFollower,
) -> None:
    second = TantivyFollower(pool, redis_client, settings, config)
    with pytest.raises(WriterLocked) as err:
        await second.open()
    assert "only one tantivy follower" in err.value.message


async def test_the_run_loop_is_woken_by_notify_not_by_its_poll(
    pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings,
    config: TantivyConfig, stream_prefix: str,
) -> None:
    # both fallbacks (the follower's queue poll, the reader's counter poll) at their maximum:
    # what is queued is seen within a fraction of it only through NOTIFY and the commit channel
    slow = dataclasses.replace(config, poll_interval_ms=10_000)
    stop = asyncio.Event()
    async with TantivyFollower(pool, redis_client, settings, slow) as follower, \
            TantivyReader(slow, redis_client, stream_prefix) as reader:
        runner = asyncio.create_task(follower.run(stop))
        try:
            async def listening() -> bool:
                return bool(await pool.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND query = 'LISTEN \"rustok_engine_queue\"'"))

            await wait_until(listening, timeout=5, what="the follower's LISTEN")
            for round_ in range(3):  # after the first, the loop has gone idle in between
                await put_product(pool, product_row(title=f"Woken {round_}"))
                started = time.monotonic()

                async def found(expected: int = round_ + 1) -> bool:
                    return await count(reader, A) == expected

                await wait_until(found, timeout=5, interval=0.01, what=f"round {round_}")
                assert time.monotonic() - started < slow.poll_interval / 2
        finally:
            stop.set()
            await asyncio.wait_for(runner, timeout=5)
    assert not await listening()


async def test_caught_up_shows_a_commit_whose_message_was_lost(
    pool: asyncpg.Pool, redis_client: aioredis.Redis, config: TantivyConfig,
    follower: TantivyFollower, stream_prefix: str,
) -> None:
    # a reader that hears nothing (its channel is one nobody publishes on) and would poll the
    # counters only every 10 s: what a search after a read-your-writes wait must not depend on
    slow = dataclasses.replace(config, poll_interval_ms=10_000)
    reader = TantivyReader(slow, redis_client, stream_prefix)
    reader._channel = f"{stream_prefix}:nobody-publishes-here"
    async with reader:
        backend = TantivyBackend(reader)
        try:
            assert await count(reader, A) == 0
            await put_product(pool, product_row(title="Applied before the search"))
            assert await follower.drain_once() == 1  # committed, counters moved
            await backend.caught_up()
            assert await count(reader, A) == 1
        finally:
            backend._threads.shutdown(wait=True)


async def test_the_run_loop_commits_in_groups_and_readers_see_it_fast(
    pool: asyncpg.Pool, follower: TantivyFollower, reader: TantivyReader,
) -> None:
    stop = asyncio.Event()
    runner = asyncio.create_task(follower.run(stop))
    try:
        row = await put_product(pool, product_row(title="Latency probe"))
        written = time.monotonic()

        async def found() -> bool:
            return bool(await hit_ids(reader, A, "latency"))

        await wait_until(found, timeout=5, interval=0.002, what="the probe")
        first_visible = time.monotonic() - written
        commits_before = follower.stats.commits
        started = time.monotonic()
        for i in range(40):  # a trickle of separate transactions
            await put_product(pool, product_row(title=f"Trickle {i}"))

        async def all_found() -> bool:
            return await count(reader, A) == 41

        await wait_until(all_found, timeout=10, interval=0.005, what="the trickle")
        elapsed = time.monotonic() - started
        commits = follower.stats.commits - commits_before
        # never one commit per document: at most one per commit interval (plus the edges)
        assert commits <= elapsed / follower.config.commit_interval + 2, (commits, elapsed)
        assert commits < 40
        assert first_visible < 1.0, first_visible
        assert follower.stats.last_lag_seconds < 5
        assert await get(reader, A, row["product_id"]) is not None
    finally:
        stop.set()
        await asyncio.wait_for(runner, timeout=5)


async def test_after_a_bulk_sized_window_the_next_gathers_longer(
    pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings,
    config: TantivyConfig, stream_prefix: str,
) -> None:
    # a bulk import's rows arrive in bursts: after a window of at least commit_bulk_docs, the
    # next keeps reading, through the gaps, instead of committing every batch
    bulk = dataclasses.replace(config, batch=3, commit_interval_ms=1, commit_bulk_docs=3,
                               commit_bulk_interval_ms=2000, commit_max_docs=7)

    async def put(n: int, title: str) -> None:
        for i in range(n):
            await put_product(pool, product_row(title=f"{title} {i}"))

    async with TantivyFollower(pool, redis_client, settings, bulk) as follower, \
            TantivyReader(bulk, redis_client, stream_prefix) as reader:
        await put(2, "Small")
        assert await follower.drain_once() == 2  # below commit_bulk_docs
        await put(3, "Edge")
        assert await follower.drain_once() == 3  # one batch (the interval passed): bulk-sized
        await put(8, "Bulk")
        assert await follower.drain_once() == 8  # three batches, until commit_max_docs
        assert follower.stats.commits == 3

        # through a gap: the window waits for the next burst instead of committing
        await put(2, "Burst")
        applied = follower.stats.docs_applied
        draining = asyncio.create_task(follower.drain_once())

        async def read_first_burst() -> bool:
            return follower.stats.docs_applied >= applied + 2

        await wait_until(read_first_burst, timeout=5, interval=0.005, what="the first burst")
        await put(5, "Second burst")
        assert await asyncio.wait_for(draining, timeout=5) == 7
        assert follower.stats.commits == 4

        # a small window ends bulk mode (after the bulk interval): batches commit alone again
        await put(1, "Tail")
        started = time.monotonic()
        assert await follower.drain_once() == 1
        assert time.monotonic() - started >= bulk.commit_bulk_interval * 0.9
        await put(5, "Trickle")
        assert await follower.drain_once() == 3
        assert await follower.drain_once() == 2
        assert follower.stats.commits == 7

        async def all_found() -> bool:
            return await count(reader, A) == 26

        await wait_until(all_found, timeout=10, interval=0.01, what="every document")


async def test_a_reader_without_redis_still_follows_commits_and_generations(
    pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings,
    config: TantivyConfig, stream_prefix: str,
) -> None:
    dead = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    async with TantivyReader(config, dead, stream_prefix) as blind:
        assert blind.generation("product") is None and await hit_ids(blind, A, "x") == []
        async with TantivyFollower(pool, redis_client, settings, config) as follower:
            await put_product(pool, product_row(title="Seen without Redis"))
            await follower.drain_once()

            async def seen() -> bool:
                return bool(await hit_ids(blind, A, "redis"))

            # no notification reaches it: the CURRENT check and a reload every 0.5 s do
            await wait_until(seen, timeout=10, interval=0.05, what="the blind reader")
            assert blind.generation("product") == "gen-1"
    await dead.aclose()
