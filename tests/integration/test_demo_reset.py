"""`rustok-search demo reset` drops the demo database, its Redis keys and Tantivy folder, and
refuses a database with other tenants or one still in use."""

from __future__ import annotations

import argparse
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from core_write.errors import Conflict
from core_write.settings import Settings
from core_write.unit import CoreWrite
from rustok_search.demo import cmd_reset
from tests.builders import make_tenant


async def test_reset_drops_only_a_demo_database_not_in_use(
    settings: Settings, core: CoreWrite, pool: asyncpg.Pool, redis_client: aioredis.Redis,
    tmp_path: Path, stream_prefix: str,
) -> None:
    folder = tmp_path / "tantivy"
    for doc_type in ("product", "content"):
        (folder / doc_type / "gen-1").mkdir(parents=True)
        (folder / doc_type / "CURRENT").write_text("gen-1")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "product").mkdir(parents=True)
    (elsewhere / "notes.txt").write_text("not an index")
    conf = settings.model_copy(update={"tantivy_dir": str(folder)})
    await redis_client.set(f"{stream_prefix}:events-epoch", "1")
    args = argparse.Namespace()
    shop = await make_tenant(core)
    with pytest.raises(Conflict, match=shop["slug"]):
        await cmd_reset(args, conf)
    await pool.execute("DELETE FROM tenants WHERE id = $1", shop["id"])
    await make_tenant(core, slug="demo-0")
    with pytest.raises(Conflict, match="in use"):
        await cmd_reset(args, conf)
    assert folder.exists() and await redis_client.exists(f"{stream_prefix}:events-epoch")
    await pool.close()
    assert await cmd_reset(args, conf) == 0
    name = settings.database_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(settings.database_url.rsplit("/", 1)[0] + "/postgres")
    try:
        assert not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    finally:
        await admin.close()
    assert not folder.exists()
    await cmd_reset(args, conf.model_copy(update={"tantivy_dir": str(elsewhere)}))
    assert (elsewhere / "notes.txt").exists()  # not a folder of ours: left alone
    assert not await redis_client.exists(f"{stream_prefix}:events-epoch")
    assert await cmd_reset(args, conf) == 0  # nothing left to drop: still fine
