"""Unauthenticated operational endpoints: liveness, readiness (PostgreSQL, Redis, the backend,
index lag), Prometheus metrics and the OpenAPI document (I/O: PostgreSQL, Redis, backend)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from search_api import metrics
from search_api.freshness import BACKLOG
from search_api.openapi import build_document
from search_api.queries import QUERIES
from search_api.wiring import BACKEND, RESOURCES, SETTINGS

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
CHECK_TIMEOUT = 2.0
READY_STATE = web.AppKey("ready_state", dict[str, bool])


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _check(name: str, call: Awaitable[Any]) -> tuple[str, Any, str | None]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            return name, await call, None
    except Exception as exc:  # noqa: BLE001 - a failing dependency is the answer, not a crash
        return name, None, f"{type(exc).__name__}: {exc}"[:300] or "failed"


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready when PostgreSQL, Redis and the backend answer and the index is not behind: by
    less than READY_MAX_LAG_SECONDS, and, until the initial indexing has caught up once, by
    less than SEARCH_STALE_AFTER_SECONDS."""
    resources = request.app[RESOURCES]
    backend = request.app[BACKEND]
    settings = request.app[SETTINGS]
    backlog = request.app[BACKLOG]
    results = await asyncio.gather(
        _check("postgres", resources.pool.fetchval("SELECT 1")),
        _check("redis", resources.redis.ping()),
        _check("backend", backend.ready()),
        _check("lag", backlog.refresh()),
    )
    checks: dict[str, dict[str, Any]] = {}
    for name, value, error in results:
        ok = error is None and value not in (None, False)
        check: dict[str, Any] = {"ok": ok}
        if name == "lag" and error is None:
            limit = settings.ready_max_lag_seconds if backlog.caught_up \
                else settings.stale_after_seconds
            check["seconds"] = round(float(value or 0), 3)
            check["max_seconds"] = limit
            check["initial_indexing"] = not backlog.caught_up
            ok = check["ok"] = float(value or 0) < limit
        if name == "backend":
            check["name"] = backend.name
            instances = getattr(backend, "health", None)
            if instances:  # several engine servers: each one's state and placements
                check["instances"] = instances
        if error is not None:
            check["error"] = error
        elif not ok and name != "lag":
            check["error"] = "not ready"
        checks[name] = check
    ready = all(c["ok"] for c in checks.values())
    if not ready and request.app[READY_STATE].get("ready", True):
        # logged when readiness is lost, not on every probe of a catching-up index
        log.warning("not ready: %s", [n for n, c in checks.items() if not c["ok"]],
                    extra={"action": "readyz"})
    request.app[READY_STATE]["ready"] = ready
    return web.json_response({"status": "ready" if ready else "not ready", "checks": checks},
                             status=200 if ready else 503)


@routes.get("/metrics")
async def metrics_endpoint(request: web.Request) -> web.Response:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            rows = await request.app[RESOURCES].pool.fetch(QUERIES["jobs_by_state"])
        counts = {row["state"]: row["n"] for row in rows}
        for state in metrics.JOB_STATES:
            metrics.REINDEX_JOBS.labels(state).set(counts.get(state, 0))
    except Exception as exc:  # noqa: BLE001 - a scrape still answers with what it has
        log.warning("reindex job counts unavailable: %s", exc, extra={"action": "metrics"})
    backend = request.app[BACKEND]
    if getattr(backend, "health", None) is not None:  # per-instance health and placements
        await _check("backend", backend.ready())
    body = generate_latest(metrics.REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(build_document())
