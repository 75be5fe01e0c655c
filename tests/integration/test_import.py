"""Bulk import (core_write/bulk_import.py, POST /v1/admin/import, `rustok-search import`):
good and bad lines, nothing half-written, idempotent by handle, the auth matrix, a kill in the
middle resumed without duplicates, and the documents searchable through per-chunk events."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from core_write import bulk_import, import_jobs, import_lines, import_refs, import_rows
from core_write.db import translate_errors
from core_write.errors import NotFound
from core_write.settings import Settings
from core_write.unit import CoreWrite
from tests.api_fixtures import Api, api_fixture  # noqa: F401 - the fixture
from tests.builders import make_tenant
from tests.pipeline import Pipeline
from tests.waiting import wait_until


def product(handle: str, **overrides: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "title": f"Import {handle.replace('-', ' ')}", "handle": handle, "status": "published",
        "description": "Imported in bulk", "subtitle": "from a file",
        "options": [{"title": "Size", "values": ["S", "M"]}],
        "variants": [
            {"sku": f"{handle}-s", "options": {"Size": "S"}, "prices": {"EUR": 1000, "USD": 1100},
             "stock": 3},
            {"sku": f"{handle}-m", "options": {"Size": "M"},
             "prices": [{"currency_code": "EUR", "amount": 1200}], "stock": {"Berlin": 0}},
        ],
        "categories": ["jackets", {"handle": "rain-gear", "name": "Rain gear"}],
        "tags": ["New in", "sale"],
    }
    line.update(overrides)
    return line


def ndjson(*lines: dict[str, Any] | str) -> bytes:
    return b"".join((line if isinstance(line, str) else json.dumps(line)).encode() + b"\n"
                    for line in lines)


async def chunks(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    """The input cut at odd places (lines span chunks)."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


async def run_import(pool: asyncpg.Pool, tenant_id: uuid.UUID, data: bytes,
                     chunk_lines: int = 500, job: dict[str, Any] | None = None
                     ) -> dict[str, Any]:
    job = job or await import_jobs.create_job(pool, tenant_id, "test", total_bytes=len(data))
    done = await bulk_import.Importer(pool, job, chunk_lines=chunk_lines).run(
        chunks(data), "test", len(data))
    return await import_jobs.job_view(pool, done, errors=1000)


async def counts(pool: asyncpg.Pool, tenant_id: uuid.UUID) -> dict[str, int]:
    row = await pool.fetchrow(
        """SELECT (SELECT count(*) FROM commerce_products WHERE tenant_id = $1) AS products,
                  (SELECT count(*) FROM commerce_variants WHERE tenant_id = $1) AS variants,
                  (SELECT count(*) FROM commerce_prices WHERE tenant_id = $1) AS prices,
                  (SELECT count(*) FROM commerce_options WHERE tenant_id = $1) AS options,
                  (SELECT count(*) FROM commerce_inventory_items WHERE tenant_id = $1) AS items,
                  (SELECT count(*) FROM commerce_inventory_levels WHERE tenant_id = $1) AS levels,
                  (SELECT count(*) FROM commerce_product_categories WHERE tenant_id = $1)
                      AS category_links,
                  (SELECT count(*) FROM taggables WHERE tenant_id = $1) AS tag_links,
                  (SELECT count(*) FROM commerce_categories WHERE tenant_id = $1) AS categories,
                  (SELECT count(*) FROM tags WHERE tenant_id = $1) AS tags,
                  (SELECT count(*) FROM commerce_stock_locations WHERE tenant_id = $1)
                      AS locations""", tenant_id)
    return dict(row)


async def test_good_lines_are_written_and_bad_ones_reported_by_line_and_field(
    pool: asyncpg.Pool, core: CoreWrite, pipeline: Pipeline,
) -> None:
    tenant = await make_tenant(core)
    before = await pool.fetchval("SELECT COALESCE(max(seq), 0) FROM outbox")
    data = ndjson(
        product("rain-jacket"),                                                  # 1
        "{not json",                                                             # 2
        product("bad-option", variants=[{"sku": "x-1", "options": {"Size": "XL"}}]),  # 3
        "",                                                                      # 4
        {"type": "node", "kind": "post", "title": "How we import", "slug": "how-we-import",
         "status": "published", "body": {"body": "Rain jackets arrive in bulk"},
         "category": "journal", "tags": ["New in"]},                             # 5
        product("sku-thief", variants=[{"sku": "rain-jacket-s", "prices": {"EUR": 5}}]),  # 6
        product("bad-currency", variants=[{"sku": "bc-1", "prices": {"EURO": 5}}]),  # 7
        product("wool-hat", title="Wool hat", categories=["hats"], tags=[]),     # 8
        {"type": "comment", "title": "?"},                                       # 9
        product("Not A Handle"),                                                 # 10
    )
    job = await run_import(pool, tenant["id"], data)

    assert job["state"] == "succeeded"
    assert (job["lines_done"], job["bytes_done"], job["total_bytes"]) == (10, len(data),
                                                                           len(data))
    assert (job["written"], job["failed"]) == (3, 6)
    errors = {e["line"]: (e["field"], e["reason"]) for e in job["errors"]}
    assert sorted(errors) == [2, 3, 6, 7, 9, 10]
    assert errors[2][0] == "" and "not valid JSON" in errors[2][1]
    assert errors[3] == ("variants.0.options.Size", "'XL' is not a value of the option")
    assert errors[6][0] == "sku" and "already exists" in errors[6][1]
    assert errors[7][0].startswith("variants.0.prices.0.currency_code")
    assert errors[9][0] == "type"
    assert errors[10][0] == "handle"

    handles = {r["handle"] for r in await pool.fetch(
        "SELECT handle FROM commerce_products WHERE tenant_id = $1", tenant["id"])}
    assert handles == {"rain-jacket", "wool-hat"}  # the SKU thief left nothing behind
    got = await counts(pool, tenant["id"])
    assert got == {"products": 2, "variants": 4, "prices": 6, "options": 2, "items": 4,
                   "levels": 4, "category_links": 3, "tag_links": 3, "categories": 3,
                   "tags": 2, "locations": 2}
    level = await pool.fetchrow(
        """SELECT l.stocked_quantity, s.name FROM commerce_inventory_levels l
           JOIN commerce_stock_locations s ON s.id = l.location_id
           JOIN commerce_inventory_items i ON i.id = l.inventory_item_id
           WHERE i.sku = 'rain-jacket-s'""")
    assert (level["stocked_quantity"], level["name"]) == (3, import_lines.DEFAULT_LOCATION)
    assert await pool.fetchval("SELECT name FROM commerce_categories WHERE handle = 'rain-gear'"
                               " AND tenant_id = $1", tenant["id"]) == "Rain gear"

    # one event per chunk and document type (plus the categories, tags and locations made),
    # not one per row
    events = [r["event_type"] for r in await pool.fetch(
        "SELECT event_type FROM outbox WHERE seq > $1 ORDER BY seq", before)]
    assert events.count("ReindexRequested") == 2
    assert not {"ProductCreated", "VariantCreated", "PriceChanged", "NodeCreated"} & set(events)

    await pipeline.settle()
    docs = {r["handle"]: dict(r) for r in await pool.fetch(
        "SELECT * FROM index_products WHERE tenant_id = $1", tenant["id"])}
    assert set(docs) == {"rain-jacket", "wool-hat"}
    doc = docs["rain-jacket"]
    assert (doc["title"], doc["status"], doc["total_stock"], doc["has_stock"]) == \
        ("Import rain jacket", "published", 3, True)
    assert doc["prices"] == {"EUR": {"min": 1000, "max": 1200}, "USD": {"min": 1100,
                                                                         "max": 1100}}
    assert sorted(doc["tags"]) == ["New in", "sale"]
    assert sorted(c["handle"] for c in doc["categories"]) == ["jackets", "rain-gear"]
    assert await pool.fetchval(
        "SELECT title FROM index_content WHERE tenant_id = $1 AND slug = 'how-we-import'",
        tenant["id"]) == "How we import"


async def test_a_line_again_updates_its_product_never_duplicates_it(
    pool: asyncpg.Pool, core: CoreWrite, pipeline: Pipeline,
) -> None:
    tenant = await make_tenant(core)
    node = {"type": "node", "kind": "page", "title": "About", "slug": "about",
            "status": "published", "body": {"body": "first"}}
    first = ndjson(product("rain-jacket"), product("wool-hat"), node)
    await run_import(pool, tenant["id"], first)
    once = await counts(pool, tenant["id"])
    changed = product("rain-jacket", title="Rain jacket, new season",
                      variants=[{"sku": "rain-jacket-s", "options": {"Size": "S"},
                                 "prices": {"EUR": 900}, "stock": 1}])
    job = await run_import(pool, tenant["id"], ndjson(changed, product("wool-hat"),
                                                      {**node, "title": "About us"}))
    assert (job["written"], job["failed"]) == (3, 0), job["errors"]
    twice = await counts(pool, tenant["id"])
    assert twice == {**once, "variants": once["variants"] - 1, "prices": once["prices"] - 2,
                     "items": once["items"] - 1, "levels": once["levels"] - 1}
    assert await pool.fetchval("SELECT count(*) FROM nodes WHERE tenant_id = $1",
                               tenant["id"]) == 1
    await pipeline.settle()
    rows = await pool.fetch("SELECT title FROM index_products WHERE tenant_id = $1 "
                            "ORDER BY 1", tenant["id"])
    assert [r["title"] for r in rows] == ["Import wool hat", "Rain jacket, new season"]
    assert await pool.fetchval("SELECT title FROM index_content WHERE tenant_id = $1",
                               tenant["id"]) == "About us"


async def test_lines_of_a_disabled_module_are_refused_and_the_rest_written(
    pool: asyncpg.Pool, core: CoreWrite,
) -> None:
    from core_write.services import tenants

    tenant = await make_tenant(core)
    await core.call(tenants.set_module, tenant["id"], "commerce", False)
    node = {"type": "node", "kind": "page", "title": "About", "slug": "about",
            "category": "company", "tags": [{"name": "Team", "slug": "people"}]}
    job = await run_import(pool, tenant["id"], ndjson(product("mug"), node))
    assert (job["written"], job["failed"]) == (1, 1)
    assert job["errors"] == [{"line": 1, "field": "type",
                              "reason": "the tenant's commerce module is disabled"}]
    row = await pool.fetchrow(
        """SELECT c.slug AS category, t.slug AS tag FROM nodes n
           JOIN categories c ON c.id = n.category_id
           JOIN taggables g ON g.target_id = n.id AND g.target_type = 'node'
           JOIN tags t ON t.id = g.tag_id WHERE n.tenant_id = $1""", tenant["id"])
    assert (row["category"], row["tag"]) == ("company", "people")
    assert await pool.fetchval("SELECT count(*) FROM commerce_products WHERE tenant_id = $1",
                               tenant["id"]) == 0


async def test_a_resumed_import_skips_the_committed_prefix_and_refuses_other_input(
    pool: asyncpg.Pool, core: CoreWrite,
) -> None:
    tenant = await make_tenant(core)
    data = ndjson(*(product(f"item-{i}") for i in range(12)))
    half = b"".join(data.splitlines(keepends=True)[:6])  # a run that stopped after 6 lines
    job = await run_import(pool, tenant["id"], half, chunk_lines=4)
    assert (job["lines_done"], job["written"]) == (6, 6)
    mark = await pool.fetchval("SELECT max(seq) FROM outbox")
    again = await run_import(pool, tenant["id"], data, chunk_lines=4,
                             job=await import_jobs.get_job(pool, job["id"]))
    assert (again["lines_done"], again["written"], again["bytes_done"]) == (12, 12, len(data))
    assert await pool.fetchval(  # only lines 7..12 were written again
        "SELECT sum(jsonb_array_length(payload->'event'->'target_ids')) FROM outbox "
        "WHERE seq > $1 AND event_type = 'ReindexRequested'", mark) == 6
    assert (await counts(pool, tenant["id"]))["products"] == 12
    other = data.replace(b"item-0", b"item-x")
    with pytest.raises(bulk_import.Conflict, match="differs from the part"):
        await run_import(pool, tenant["id"], other,
                         job=await import_jobs.get_job(pool, job["id"]))


# ---- over HTTP -----------------------------------------------------------------------------
NDJSON = {"Content-Type": "application/x-ndjson"}


async def test_import_over_http_and_its_auth_matrix(api: Api, pool: asyncpg.Pool) -> None:
    client = api.client
    a, b = api.tenants["a"], api.tenants["b"]
    body = ndjson(product("http-jacket"), "[1, 2]")

    resp = await client.post("/v1/admin/import", data=body,
                             headers={**api.auth("a.search"), **NDJSON})
    assert resp.status == 403
    resp = await client.post("/v1/admin/import", data=body,
                             headers={**api.auth("a.admin"), "Content-Type": "application/json"})
    assert resp.status == 415
    assert resp.content_type == "application/problem+json"
    resp = await client.post(f"/v1/admin/import?tenant={b['slug']}", data=body,
                             headers={**api.auth("a.admin"), **NDJSON})
    assert resp.status == 403
    resp = await client.post("/v1/admin/import", data=body,
                             headers={**api.auth("operator"), **NDJSON})
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "tenant"

    resp = await client.post("/v1/admin/import", data=body,
                             headers={**api.auth("a.admin"), **NDJSON})
    assert resp.status == 200, await resp.text()
    done = (await resp.json())["import"]
    assert (done["state"], done["written"], done["failed"], done["progress"]) == \
        ("succeeded", 1, 1, 1.0)
    assert done["errors"] == [{"line": 2, "field": "",
                               "reason": "must be a JSON object, not list"}]
    assert resp.headers["Location"] == f"/v1/admin/import/{done['id']}"
    assert await pool.fetchval("SELECT tenant_id FROM commerce_products WHERE handle = "
                               "'http-jacket'") == a["id"]

    resp = await client.post(f"/v1/admin/import?tenant={b['slug']}", data=body,
                             headers={**api.auth("operator"), **NDJSON})
    assert resp.status == 200
    assert await pool.fetchval("SELECT count(*) FROM commerce_products WHERE handle = "
                               "'http-jacket' AND tenant_id = $1", b["id"]) == 1

    # progress: the owner and operators see the job; another tenant's admin does not
    path = f"/v1/admin/import/{done['id']}"
    assert (await client.get(path, headers=api.auth("b.admin"))).status == 404
    assert (await client.get(path, headers=api.auth("a.search"))).status == 403
    seen = await client.get(path, headers=api.auth("operator"))
    assert (await seen.json())["import"]["lines_done"] == 2
    listed = await client.get("/v1/admin/import", headers=api.auth("a.admin"))
    assert [job["id"] for job in (await listed.json())["imports"]] == [done["id"]]

    # the same id again: the committed body is skipped, a different one refused
    resp = await client.post(f"/v1/admin/import?id={done['id']}", data=body,
                             headers={**api.auth("a.admin"), **NDJSON})
    assert resp.status == 200
    assert (await resp.json())["import"]["written"] == 1
    resp = await client.post(f"/v1/admin/import?id={done['id']}", data=b"{}\n" + body,
                             headers={**api.auth("a.admin"), **NDJSON})
    assert resp.status == 409


async def test_an_import_body_over_the_limit_is_refused(api: Api, settings: Settings) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from search_api.app import create_app
    from tests.api_fixtures import api_settings

    app = create_app(api_settings(settings, api_import_max_bytes=2048),
                     lambda _s, _r: api.backend, backend_name="canned")  # type: ignore[arg-type,return-value]
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        body = ndjson(*(product(f"big-{i}") for i in range(10)))
        resp = await client.post("/v1/admin/import", data=body,
                                 headers={**api.auth("a.admin"), **NDJSON})
        assert resp.status == 413
        assert resp.content_type == "application/problem+json"

        async def stream() -> AsyncIterator[bytes]:  # no Content-Length: counted as read
            yield body

        resp = await client.post("/v1/admin/import", data=stream(),
                                 headers={**api.auth("a.admin"), **NDJSON})
        assert resp.status == 413
    finally:
        await client.close()


# ---- the CLI, killed in the middle ---------------------------------------------------------
async def test_the_cli_resumes_after_a_kill_without_duplicates(
    pool: asyncpg.Pool, core: CoreWrite, pipeline: Pipeline, settings: Settings,
    tmp_path: Path,
) -> None:
    tenant = await make_tenant(core)
    total = 2000
    source = tmp_path / "catalog.ndjson"
    source.write_bytes(ndjson(*(product(f"p-{i}", tags=[], categories=["jackets"])
                                for i in range(total)), "oops"))
    env = dict(os.environ, DATABASE_URL=settings.database_url, RUSTOK_LOG_LEVEL="WARNING")
    command = [sys.executable, "-m", "rustok_search.cli", "import", str(source),
               "--tenant", tenant["slug"], "--chunk", "10"]
    first = await asyncio.create_subprocess_exec(*command, env=env,
                                                 stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.PIPE)

    async def committed() -> bool:
        return bool(await pool.fetchval(
            "SELECT lines_done FROM import_jobs WHERE tenant_id = $1", tenant["id"]))

    try:
        await wait_until(committed, timeout=60, what="a first committed chunk")
    finally:
        first.send_signal(signal.SIGKILL)
        await first.communicate()
    job = await pool.fetchrow("SELECT * FROM import_jobs WHERE tenant_id = $1", tenant["id"])
    assert 0 < job["lines_done"] < total, "the kill came too late to test resuming"
    assert job["state"] == "running"

    async def interrupted() -> bool:  # once the killed runner's connection is gone
        return bool((await import_jobs.job_view(pool, dict(job)))["state"] == "interrupted")

    await wait_until(interrupted, timeout=30, what="the killed runner's lock released")
    assert (await counts(pool, tenant["id"]))["products"] == job["lines_done"]

    second = await asyncio.create_subprocess_exec(*command, "--resume", env=env,
                                                  stdout=asyncio.subprocess.PIPE,
                                                  stderr=asyncio.subprocess.PIPE)
    out, err = await second.communicate()
    assert second.returncode == 1, err.decode()  # the last line is refused
    text = out.decode()
    assert f"resuming import {job['id']} after line {job['lines_done']}" in err.decode()
    assert f"import {job['id']} succeeded: {total + 1:,} lines, {total:,} written, 1 refused" \
        in text
    assert f"this run {total + 1 - job['lines_done']:,} lines" in text
    assert f"line {total + 1}: not valid JSON" in text
    assert await pool.fetchval("SELECT count(*) FROM import_jobs WHERE tenant_id = $1",
                               tenant["id"]) == 1
    got = await counts(pool, tenant["id"])
    assert (got["products"], got["variants"], got["prices"], got["category_links"]) == \
        (total, 2 * total, 3 * total, total)
    # the chunk the kill interrupted was rolled back and written once by the second run
    ids = await pool.fetchval(
        "SELECT count(*) FROM (SELECT jsonb_array_elements_text(payload->'event'->'target_ids')"
        " FROM outbox WHERE event_type = 'ReindexRequested' AND tenant_id = $1) t",
        tenant["id"])
    assert ids == total

    await pipeline.settle()
    assert await pool.fetchval("SELECT count(*) FROM index_products WHERE tenant_id = $1",
                               tenant["id"]) == total


# ---- foreign keys checked per statement ----------------------------------------------------
async def test_parts_are_checked_per_statement_with_or_without_the_row_triggers(
    pool: asyncpg.Pool, core: CoreWrite, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under session_replication_role = replica (the tests' role is a superuser) PostgreSQL's
    per-row foreign key checks do not run: a part naming a missing parent is refused by the
    per-statement check, and nothing of the batch stays. Without it the same rows go through
    the row triggers; both write the same rows."""
    assert await bulk_import.may_set_replica(pool)
    tenant = await make_tenant(core)
    line = import_lines.parse_line(json.dumps(product("fk-probe")).encode())
    assert isinstance(line, import_lines.ProductLine)
    async with pool.acquire() as conn:
        refs = import_refs.Refs(
            categories={"jackets": uuid.uuid4(), "rain-gear": uuid.uuid4()},  # no such rows
            tags={"new-in": uuid.uuid4(), "sale": uuid.uuid4()},
            locations={"Default": uuid.uuid4(), "Berlin": uuid.uuid4()})
        for replica in (True, False):
            with pytest.raises(NotFound):
                async with conn.transaction():
                    with translate_errors():
                        await import_rows.write_products(
                            conn, tenant["id"], [(1, line)], refs, replica=replica)
            assert await conn.fetchval("SHOW session_replication_role") == "origin"
        assert (await counts(pool, tenant["id"]))["products"] == 0
    written = {}
    for replica in (True, False):
        other = await make_tenant(core)
        job = await import_jobs.create_job(pool, other["id"], "test")
        importer = bulk_import.Importer(pool, job)

        async def fixed(_: asyncpg.Pool, value: bool = replica) -> bool:
            return value
        monkeypatch.setattr(bulk_import, "may_set_replica", fixed)
        done = await importer.run(chunks(ndjson(*(product(f"p-{i}") for i in range(20))),
                                         4096), "test")
        assert (done["written"], done["failed"], importer.replica) == (20, 0, replica)
        written[replica] = await counts(pool, other["id"])
    assert written[True] == written[False]
    assert written[True]["products"] == 20 and written[True]["levels"] == 40


async def test_the_planner_statistics_follow_the_import(
    pool: asyncpg.Pool, core: CoreWrite, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The import analyzes the product tables beside the writing once it has written
    `ANALYZE_AFTER` products, so the indexer's build is not planned for a table a tenth of
    its size."""
    tenant = await make_tenant(core)
    monkeypatch.setattr(bulk_import, "ANALYZE_AFTER", 15)
    tables = ("commerce_products", "commerce_option_values", "taggables")
    query = "SELECT relname, reltuples FROM pg_class WHERE relname = ANY($1::text[])"
    assert all(r["reltuples"] < 15 for r in await pool.fetch(query, list(tables)))
    done = await run_import(pool, tenant["id"], ndjson(*(product(f"s-{i}") for i in range(40))),
                            chunk_lines=10)
    assert done["written"] == 40
    counted = {r["relname"]: r["reltuples"] for r in await pool.fetch(query, list(tables))}
    assert counted["commerce_products"] >= 20, counted  # analyzed after 20, maybe after 40
    assert counted["commerce_option_values"] >= 40 and counted["taggables"] >= 40, counted


async def test_the_binary_copy_writes_each_value_of_a_line(
    pool: asyncpg.Pool, core: CoreWrite,
) -> None:
    """The parts go in as binary COPY data the import encodes itself: every column it sets
    reads back as the line gave it (non-ASCII text, NULLs, booleans, integers, a bigint
    amount, jsonb metadata), and the columns it leaves get their defaults."""
    tenant = await make_tenant(core)
    line = product("binary-probe", thumbnail="https://img.example/ß.png", subtitle=None,
                   description="Ünïcode\ttext", metadata={"origin": "Köln", "n": 1},
                   options=[
        {"title": "Größe", "values": ["S", "M – mittel"], "position": 2}], variants=[
        {"title": "Klein ☂", "sku": None, "barcode": "4006381333931", "options": {"Größe": "S"},
         "manage_inventory": False, "allow_backorder": True, "weight": 250, "length": 0,
         "height": 2**31 - 1, "width": None, "position": 7,
         "metadata": {"colour": "grün", "tags": [1, 2.5, None, True]},
         "prices": [{"currency_code": "JPY", "amount": 2**63 - 1, "min_quantity": 10},
                    {"currency_code": "EUR", "amount": 0}],
         "stock": {"Köln": 2**31 - 1, "Default": 0}},
        {"sku": "binary-m", "options": {"Größe": "M – mittel"}}])
    done = await run_import(pool, tenant["id"], ndjson(line))
    assert (done["written"], done["failed"]) == (1, 0), done["errors"]
    t = tenant["id"]
    row = await pool.fetchrow(
        "SELECT title, subtitle, handle, description, status, discountable, metadata, "
        "thumbnail, published_at = created_at AS published_now FROM commerce_products "
        "WHERE tenant_id = $1", t)
    assert dict(row) == {
        "title": "Import binary probe", "subtitle": None, "handle": "binary-probe",
        "description": "Ünïcode\ttext", "status": "published", "discountable": True,
        "metadata": {"origin": "Köln", "n": 1}, "thumbnail": "https://img.example/ß.png",
        "published_now": True}  # the transaction's now(), as the services set it
    option = await pool.fetchrow("SELECT title, position FROM commerce_options "
                                 "WHERE tenant_id = $1", t)
    assert dict(option) == {"title": "Größe", "position": 2}
    assert [tuple(r) for r in await pool.fetch(
        "SELECT value, position FROM commerce_option_values WHERE tenant_id = $1 "
        "ORDER BY position", t)] == [("S", 0), ("M – mittel", 1)]
    variants = [dict(r) for r in await pool.fetch(
        """SELECT v.title, v.sku, v.barcode, v.manage_inventory, v.allow_backorder, v.weight,
                  v.length, v.height, v.width, v.position, v.metadata, ov.value,
                  v.created_at IS NOT NULL AS stamped
           FROM commerce_variants v
           JOIN commerce_variant_options vo ON vo.variant_id = v.id
           JOIN commerce_option_values ov ON ov.id = vo.option_value_id
           WHERE v.tenant_id = $1 ORDER BY v.position""", t)]
    assert variants == [
        {"title": "M – mittel", "sku": "binary-m", "barcode": None, "manage_inventory": True,
         "allow_backorder": False, "weight": None, "length": None, "height": None,
         "width": None, "position": 1, "metadata": {}, "value": "M – mittel", "stamped": True},
        {"title": "Klein ☂", "sku": None, "barcode": "4006381333931",
         "manage_inventory": False, "allow_backorder": True, "weight": 250, "length": 0,
         "height": 2**31 - 1, "width": None, "position": 7,
         "metadata": {"colour": "grün", "tags": [1, 2.5, None, True]}, "value": "S",
         "stamped": True}]
    assert sorted(tuple(r) for r in await pool.fetch(
        "SELECT currency_code, amount, min_quantity, price_list_id FROM commerce_prices "
        "WHERE tenant_id = $1", t)) == [("EUR", 0, 1, None), ("JPY", 2**63 - 1, 10, None)]
    assert sorted(tuple(r) for r in await pool.fetch(
        """SELECT i.sku, i.requires_shipping, vi.required_quantity, s.name,
                  l.stocked_quantity, l.reserved_quantity
           FROM commerce_inventory_items i
           JOIN commerce_variant_inventory vi ON vi.inventory_item_id = i.id
           JOIN commerce_inventory_levels l ON l.inventory_item_id = i.id
           JOIN commerce_stock_locations s ON s.id = l.location_id
           WHERE i.tenant_id = $1""", t)) == [
        (None, True, 1, "Default", 0, 0), (None, True, 1, "Köln", 2**31 - 1, 0)]

    # imported again as a draft without a thumbnail: the upsert path writes the same fields
    again = await run_import(pool, t, ndjson(product("binary-probe", status="draft")))
    assert (again["written"], again["failed"]) == (1, 0), again["errors"]
    row = await pool.fetchrow("SELECT subtitle, status, thumbnail, published_at, metadata "
                              "FROM commerce_products WHERE tenant_id = $1", t)
    assert dict(row) == {"subtitle": "from a file", "status": "draft", "thumbnail": None,
                         "published_at": None, "metadata": {}}
