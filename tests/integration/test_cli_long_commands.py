"""The long commands as the CLI runs them (demo load, reindex, verify): their progress bars
stay quiet off a terminal, and `verify --repair` exits 0 once the index tables are repaired."""

from __future__ import annotations

import argparse

import asyncpg
import pytest

from core_write.services import users
from core_write.settings import Settings
from rustok_search import progress
from rustok_search.cli import cmd_reindex, cmd_verify
from rustok_search.demo import load
from tests.builders import FAST_HASHER
from tests.pipeline import Pipeline


async def test_load_reindex_verify_repair(
    pool: asyncpg.Pool, pipeline: Pipeline, settings: Settings,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(users, "hasher", FAST_HASHER)
    assert not progress.on_terminal() and progress.bars().disable
    summary = await load(pool, products=12, nodes=6, tenants=2, seed=1, concurrency=2)
    assert summary.startswith("demo data: 2 tenants (demo-0, demo-1), 12 products, 6 nodes")
    await pipeline.settle()
    conf = settings.model_copy(update={"engines": ()})

    reindex = argparse.Namespace(tenant=None, type="products", id=None, engine=None,
                                 queue=False)
    assert await cmd_reindex(reindex, conf) == 0
    job = await pool.fetchrow("SELECT * FROM index_jobs")
    assert job["requested_by"].startswith("cli:") and job["done"] == job["total"] == 12
    assert f"reindex job {job['id']} succeeded: 12/12 documents" in capsys.readouterr().out

    verify = argparse.Namespace(tenant=None, repair=False)
    assert await cmd_verify(verify, conf) == 0
    await pool.execute("DELETE FROM index_products WHERE product_id = "
                       "(SELECT product_id FROM index_products ORDER BY product_id LIMIT 1)")
    assert await cmd_verify(verify, conf) == 1
    assert "drift: 1 documents" in capsys.readouterr().out
    assert await cmd_verify(argparse.Namespace(tenant=None, repair=True), conf) == 0
    assert "repaired: 1 documents; the index tables checked again: no drift" in \
        capsys.readouterr().out
    assert await cmd_verify(verify, conf) == 0
    assert capsys.readouterr().out.strip().endswith("no drift")
    assert "\x1b[" not in capsys.readouterr().err  # no bar drawn off a terminal
