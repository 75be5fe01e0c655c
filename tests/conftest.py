"""Shared fixtures: a migrated template database per test run, a fresh database per test
(CREATE DATABASE ... TEMPLATE), and a Redis key prefix per test, so runs never collide."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from core_write.db import connect, create_pool, quote_ident, with_database
from core_write.migrations import migrate
from core_write.partitions import ensure_order_partitions
from core_write.settings import Settings
from core_write.unit import CoreWrite
from tests.pipeline import Pipeline

BASE_DSN = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:8]}"


async def _drop(name: str) -> None:
    admin = await connect(with_database(BASE_DSN, "postgres"))
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture(scope="session", autouse=True)
async def _run_keys() -> AsyncIterator[None]:
    """At the end of the run, every Redis key of its prefix goes (tests that start processes
    or an API leave counters and streams behind; Redis here keeps them forever)."""
    yield
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"rustok_test:{RUN_ID}:*",
                                                      count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start:start + 500])
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
async def template_db() -> AsyncIterator[str]:
    name = f"rustok_test_{RUN_ID}_tpl"
    dsn = with_database(BASE_DSN, name)
    await migrate(dsn)
    conn = await connect(dsn)
    try:
        await ensure_order_partitions(conn, ahead=2)
    finally:
        await conn.close()
    yield name
    await _drop(name)


@pytest.fixture
async def db_dsn(template_db: str) -> AsyncIterator[str]:
    name = f"rustok_test_{RUN_ID}_{uuid.uuid4().hex[:10]}"
    admin = await connect(with_database(BASE_DSN, "postgres"))
    try:
        await admin.execute(
            f"CREATE DATABASE {quote_ident(name)} TEMPLATE {quote_ident(template_db)}"
        )
    finally:
        await admin.close()
    yield with_database(BASE_DSN, name)
    await _drop(name)


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(db_dsn, min_size=1, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
def core(pool: asyncpg.Pool) -> CoreWrite:
    return CoreWrite(pool)


@pytest.fixture
def stream_prefix() -> str:
    return f"rustok_test:{RUN_ID}:{uuid.uuid4().hex[:8]}"


@pytest.fixture
def settings(db_dsn: str, stream_prefix: str) -> Settings:
    return Settings(DATABASE_URL=db_dsn, REDIS_URL=REDIS_URL, RUSTOK_STREAM_PREFIX=stream_prefix,
                    RELAY_POLL_INTERVAL=0.2, RELAY_ACK_SYNC_INTERVAL=0.2)


@pytest.fixture
async def redis_client(stream_prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    keys = [key async for key in client.scan_iter(match=f"{stream_prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def outbox_events(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """Every event in the outbox, in seq order, as its decoded `event` payload."""
    rows = await pool.fetch("SELECT payload FROM outbox ORDER BY seq")
    return [row["payload"]["event"] for row in rows]


async def event_types(pool: asyncpg.Pool) -> list[str]:
    return [event["type"] for event in await outbox_events(pool)]


@pytest.fixture
async def pipeline(
    pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings
) -> Pipeline:
    from indexer.consumer import Consumer
    from indexer.relay import Relay

    line = Pipeline(Relay(pool, redis_client, settings), Consumer(pool, redis_client, settings))
    await line.start()
    return line
