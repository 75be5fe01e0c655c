"""While a tenant's changes wait for the indexer or the engine, its searches say `stale`; until
the index has caught up once after start, /readyz is not ready (the initial indexing)."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from core_write.resources import Resources
from core_write.settings import Settings
from core_write.unit import CoreWrite
from search_api.app import create_app
from search_api.auth import create_key
from tests.api_fixtures import CannedBackend, api_settings
from tests.builders import make_tenant
from tests.waiting import wait_until

WAITING = """INSERT INTO outbox (event_id, tenant_id, aggregate_type, aggregate_id, event_type,
    payload, created_at) VALUES (gen_random_uuid(), $1, 'x', gen_random_uuid(), 'x', '{}',
    now() - make_interval(secs => $2))"""


async def test_stale_and_not_ready_while_behind(settings: Settings, core: CoreWrite) -> None:
    a, b = await make_tenant(core), await make_tenant(core)
    await core.pool.execute("UPDATE outbox SET indexed_at = clock_timestamp()")
    keys = {t["id"]: (await create_key(core.pool, t["slug"], "search"))[0] for t in (a, b)}
    await core.pool.execute(WAITING, a["id"], 20.0)  # the initial indexing is behind
    backend = CannedBackend()

    def factory(_settings: Settings, _resources: Resources) -> CannedBackend:
        return backend

    conf = api_settings(settings, stale_after_seconds=2.0, ready_max_lag_seconds=30.0)
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(conf, factory)))
    await client.start_server()
    replica: TestClient[Any, Any] | None = None

    async def readyz() -> tuple[int, dict[str, Any]]:
        resp = await client.get("/readyz")
        return resp.status, (await resp.json())["checks"]["lag"]

    async def stale(tenant: uuid.UUID) -> bool:
        resp = await client.get("/v1/search/products",
                                headers={"Authorization": f"Bearer {keys[tenant]}"})
        assert resp.status == 200
        return bool((await resp.json())["stale"])

    try:
        status, lag = await readyz()
        assert status == 503 and lag["initial_indexing"] is True and lag["seconds"] >= 20
        assert lag["max_seconds"] == 2.0
        assert await stale(a["id"]) and not await stale(b["id"])

        await core.pool.execute("UPDATE outbox SET indexed_at = clock_timestamp()")
        status, lag = await readyz()
        assert status == 200 and lag["initial_indexing"] is False
        await wait_until(lambda: _not(stale(a["id"])), timeout=5, what="a fresh again")

        # caught up once: a backlog below READY_MAX_LAG_SECONDS leaves the API ready, but the
        # tenant's answers say stale (here: a change waiting for the engine)
        await core.pool.execute(
            "INSERT INTO engine_queue (engine, doc_type, doc_id, tenant_id, event_time) "
            "VALUES ('canned', 'product', gen_random_uuid(), $1, now() - interval '5 s')",
            b["id"])
        status, lag = await readyz()
        assert status == 200 and 5 <= lag["seconds"] < 30 and lag["max_seconds"] == 30.0
        await wait_until(lambda: stale(b["id"]), timeout=5, what="b stale")
        assert not await stale(a["id"])

        # an API started now (a restarted replica) knows the index caught up once already
        replica = TestClient(TestServer(create_app(conf, factory)))
        await replica.start_server()
        resp = await replica.get("/readyz")
        lag = (await resp.json())["checks"]["lag"]
        assert resp.status == 200 and lag["initial_indexing"] is False and lag["seconds"] >= 5
    finally:
        await client.close()
        if replica is not None:
            await replica.close()


async def _not(check: Any) -> bool:
    return not await check
