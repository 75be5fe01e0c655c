"""Admin endpoints over HTTP: reindex request validation and job lookup, the dead-letter list
(paginated by entry id) and replay onto the event stream (real PostgreSQL and Redis)."""

from __future__ import annotations

import uuid

from indexer.engine_queue import backlog, read
from search_api.wiring import RESOURCES
from tests.api_fixtures import Api, api_fixture  # noqa: F401 - the fixture

PROBLEM = "application/problem+json"


async def test_reindex_validation_errors_name_the_field(api: Api) -> None:
    op = api.auth("operator")
    for body, status, field in (({"type": "stuff"}, 422, "type"),
                                ({"id": "x", "type": "products"}, 422, "id"),
                                ({"id": str(uuid.uuid4())}, 422, "id"),
                                ({"tenant": 5}, 422, "tenant"),
                                ({"tenant_id": "x"}, 422, "tenant_id"),
                                ([], 422, "body")):
        resp = await api.client.post("/v1/admin/reindex", json=body, headers=op)
        assert resp.status == status, (body, await resp.text())
        problem = await resp.json()
        assert resp.content_type == PROBLEM and problem["errors"][0]["field"] == field, problem
    resp = await api.client.post("/v1/admin/reindex", data=b"{oops",
                                 headers={**op, "Content-Type": "application/json"})
    assert resp.status == 400


async def test_reindex_one_document(api: Api) -> None:
    doc = uuid.uuid4()
    resp = await api.client.post("/v1/admin/reindex", headers=api.auth("b.admin"),
                                 json={"type": "products", "id": str(doc)})
    assert resp.status == 202
    job = (await resp.json())["job"]
    assert job["doc_id"] == str(doc) and job["doc_type"] == "product"


async def test_job_lookup_errors(api: Api) -> None:
    op = api.auth("operator")
    resp = await api.client.get("/v1/admin/reindex/not-a-uuid", headers=op)
    assert resp.status == 422 and (await resp.json())["errors"][0]["field"] == "job"
    resp = await api.client.get(f"/v1/admin/reindex/{uuid.uuid4()}", headers=op)
    assert resp.status == 404 and resp.content_type == PROBLEM


async def _park(api: Api, count: int) -> list[str]:
    redis = api.client.app[RESOURCES].redis
    ids = []
    for n in range(count):
        entry = await redis.xadd(api.settings.key("dlq"), {
            "id": str(uuid.uuid4()), "seq": str(n + 1), "type": "ProductUpdated",
            "tenant": str(api.tenants["a"]["id"]), "data": "{}", "error": "boom",
            "entry_id": f"1-{n}", "deliveries": "5", "failed_at": "2026-01-01T00:00:00Z"})
        ids.append(entry.decode())
    return ids


async def test_dlq_list_is_paginated_by_entry_id(api: Api) -> None:
    ids = await _park(api, 5)
    op = api.auth("operator")
    resp = await api.client.get("/v1/admin/dlq?limit=2", headers=op)
    page = await resp.json()
    assert [e["id"] for e in page["entries"]] == ids[:2] and page["total"] == 5
    assert page["entries"][0]["fields"]["error"] == "boom"
    seen = [e["id"] for e in page["entries"]]
    while page["next"]:
        resp = await api.client.get(f"/v1/admin/dlq?limit=2&after={page['next']}", headers=op)
        page = await resp.json()
        seen += [e["id"] for e in page["entries"]]
    assert seen == ids
    for qs, field in (("limit=0", "limit"), ("limit=x", "limit"), ("after=abc", "after")):
        resp = await api.client.get(f"/v1/admin/dlq?{qs}", headers=op)
        assert resp.status == 422 and (await resp.json())["errors"][0]["field"] == field


async def test_dlq_replay_moves_entries_back_without_error_fields(api: Api) -> None:
    ids = await _park(api, 3)
    redis = api.client.app[RESOURCES].redis
    op = api.auth("operator")
    resp = await api.client.post("/v1/admin/dlq/replay", headers=op,
                                 json={"ids": [ids[1], "1-1"]})
    body = await resp.json()
    assert resp.status == 200
    assert [r["id"] for r in body["replayed"]] == [ids[1]] and body["missing"] == ["1-1"]
    stream = await redis.xrange(api.settings.stream)
    assert len(stream) == 1
    fields = stream[0][1]
    assert b"error" not in fields and b"deliveries" not in fields and fields[b"seq"] == b"2"
    assert await redis.xlen(api.settings.key("dlq")) == 2
    resp = await api.client.post("/v1/admin/dlq/replay", headers=op)
    assert [r["id"] for r in (await resp.json())["replayed"]] == [ids[0], ids[2]]
    assert await redis.xlen(api.settings.key("dlq")) == 0
    assert await redis.xlen(api.settings.stream) == 3
    for body_, field in (({"ids": ["bad"]}, "ids.0"), ({"ids": []}, "ids"),
                         ({"all": True}, "all")):
        resp = await api.client.post("/v1/admin/dlq/replay", headers=op, json=body_)
        assert resp.status == 422 and (await resp.json())["errors"][0]["field"] == field


async def test_engine_dead_letters_are_listed_and_requeued(api: Api) -> None:
    redis = api.client.app[RESOURCES].redis
    pool = api.client.app[RESOURCES].pool
    tenant = api.tenants["a"]["id"]
    doc_id = uuid.uuid4()
    refused = await redis.xadd(api.settings.key("engine-dlq"), {
        "engine": "meilisearch", "doc_type": "product", "doc_id": str(doc_id),
        "tenant_id": str(tenant), "seq": "9", "error": "invalid document"})
    junk = await redis.xadd(api.settings.key("engine-dlq"), {"error": "no document"})
    op = api.auth("operator")
    resp = await api.client.get("/v1/admin/dlq?queue=engine", headers=op)
    page = await resp.json()
    assert [e["id"] for e in page["entries"]] == [refused.decode(), junk.decode()]
    assert page["entries"][0]["fields"]["error"] == "invalid document"
    resp = await api.client.get("/v1/admin/dlq?queue=other", headers=op)
    assert resp.status == 422 and (await resp.json())["errors"][0]["field"] == "queue"
    resp = await api.client.post("/v1/admin/dlq/replay", headers=op, json={"queue": "engine"})
    body = await resp.json()
    assert resp.status == 200
    assert [r["doc_id"] for r in body["replayed"]] == [str(doc_id)]
    assert body["missing"] == [junk.decode()]
    queued = [(e.doc_type, e.tenant_id) for e in await read(pool, "meilisearch", 0, 100)
              if e.doc_id == doc_id]
    assert queued == [("product", tenant)]
    assert await backlog(pool) == {"meilisearch": 1}  # for that engine only
    assert await redis.xlen(api.settings.key("engine-dlq")) == 1  # the junk stays
    assert await redis.xlen(api.settings.stream) == 0  # nothing went to the event stream
