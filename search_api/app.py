"""The aiohttp application: middlewares (access log + metrics, CORS, problem+json, limits,
auth), routes, resources opened by a cleanup context, and `serve` with graceful shutdown
(I/O: the HTTP server).

Shutdown answers every request it accepted: on the stop signal the listener closes, idle
connections close, and each request in flight keeps its own deadline, brought forward to the
end of the grace less `CLOSE_RESERVE_SECONDS` if that is sooner (passing it gets a 503
problem, never a reset), so the resources close and the process exits within
API_SHUTDOWN_GRACE_SECONDS."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from core_write.settings import Settings
from search_api import metrics
from search_api.auth import API_KEY, KeyCache, KeyUsage, authenticate, protected
from search_api.errors import Problem, problem_middleware
from search_api.freshness import backlog_ctx
from search_api.graphql.schema import add_graphql
from search_api.protocol import ApiRunner
from search_api.relevance_store import RelevanceCache
from search_api.routes_accounts import routes as account_routes
from search_api.routes_admin import routes as admin_routes
from search_api.routes_health import READY_STATE
from search_api.routes_health import routes as health_routes
from search_api.routes_import import IMPORT_PATH
from search_api.routes_import import routes as import_routes
from search_api.routes_preview import routes as preview_routes
from search_api.routes_relevance import routes as relevance_routes
from search_api.routes_search import routes as search_routes
from search_api.wiring import (
    RELEVANCE,
    RESOURCES,
    SETTINGS,
    BackendFactory,
    make_backend,
    resources_ctx,
)

CLOSE_RESERVE_SECONDS = 3.0
"""Of the shutdown grace, kept for closing the backend and the pools (at most half of it)."""


class Deadlines:
    """The deadlines of the requests in flight, so a stopping API can bring them forward."""

    def __init__(self) -> None:
        self._timeouts: set[asyncio.Timeout] = set()
        self.stop_at: float | None = None
        """Loop time by which every request ends, once the API is stopping."""

    def _bound(self, timeout: asyncio.Timeout) -> None:
        if self.stop_at is not None:
            current = timeout.when()
            timeout.reschedule(self.stop_at if current is None else min(current, self.stop_at))

    @contextmanager
    def track(self, timeout: asyncio.Timeout) -> Iterator[None]:
        self._bound(timeout)
        self._timeouts.add(timeout)
        try:
            yield
        finally:
            self._timeouts.discard(timeout)

    def stop_by(self, when: float) -> int:
        """Every request in flight ends by loop time `when`; returns how many there are."""
        self.stop_at = when
        for timeout in self._timeouts:
            self._bound(timeout)
        return len(self._timeouts)


KEY_CACHE = web.AppKey("key_cache", KeyCache)
KEY_USAGE = web.AppKey("key_usage", KeyUsage)
DEADLINES = web.AppKey("deadlines", Deadlines)

log = logging.getLogger(__name__)
access_log = logging.getLogger("search_api.access")
CORS_METHODS = "GET, POST, OPTIONS"
CORS_HEADERS = "Authorization, X-Api-Key, Content-Type"


def observe_middleware(backend_name: str) -> Middleware:
    """Outermost: one JSON access-log line and one latency observation per request."""

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        metrics.IN_FLIGHT.inc()
        try:
            response = await handler(request)
            status = response.status
            return response
        finally:
            metrics.IN_FLIGHT.dec()
            elapsed = time.perf_counter() - started
            route = metrics.route_label(request)
            metrics.REQUEST_SECONDS.labels(route, request.method, backend_name,
                                           str(status)).observe(elapsed)
            key = request.get(API_KEY)
            access_log.info("%s %s %d", request.method, request.path, status, extra={
                "action": "http", "method": request.method, "route": route,
                "path": request.path, "status": status,
                "duration_ms": round(elapsed * 1000, 2), "remote": request.remote,
                "key_id": str(key.id) if key is not None else None,
                "tenant": str(key.tenant_id) if key is not None and key.tenant_id else None,
                "role": key.role if key is not None else None})

    return observe


def cors_middleware(origins: tuple[str, ...]) -> Middleware:
    """Answers preflights and adds the CORS headers for the configured origins only."""

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        allowed = origin is not None and ("*" in origins or origin.rstrip("/") in origins)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            if not allowed:
                return Problem(403, "this origin may not call the API",
                               slug="cors").response(request.path)
            response: web.StreamResponse = web.Response(status=204)
            response.headers.update({"Access-Control-Allow-Methods": CORS_METHODS,
                                     "Access-Control-Allow-Headers": CORS_HEADERS,
                                     "Access-Control-Max-Age": "600"})
        else:
            response = await handler(request)
        if allowed and origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    return cors


def limits_middleware(settings: Settings) -> Middleware:
    """Query-string length and the per-request deadline (503 problem when it passes). An
    import streams its body for as long as it takes: it has no deadline but the shutdown's
    (it is resumable)."""
    timeout = settings.api_request_timeout_ms / 1000

    @web.middleware
    async def limits(request: web.Request, handler: Handler) -> web.StreamResponse:
        if len(request.query_string) > settings.api_max_query_bytes:
            raise Problem(414, f"the query string is longer than "
                               f"{settings.api_max_query_bytes} bytes",
                          errors=[{"field": "query", "message": "too long"}])
        deadlines = request.app[DEADLINES]
        try:
            unbounded = request.method == "POST" and request.path == IMPORT_PATH
            async with asyncio.timeout(None if unbounded else timeout) as deadline:
                with deadlines.track(deadline):
                    return await handler(request)
        except TimeoutError:
            if deadlines.stop_at is not None:
                raise Problem(503, "the API is stopping; retry", slug="stopping",
                              headers={"Retry-After": "1", "Connection": "close"}) from None
            raise Problem(503, f"the request took longer than {timeout:g} s",
                          slug="timeout", headers={"Retry-After": "1"}) from None

    return limits


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every `/v1/` route needs a key; health, metrics and the document do not."""
    if protected(request) and request.match_info.http_exception is None:
        await authenticate(request, request.app[RESOURCES].pool, request.app[KEY_CACHE],
                           request.app[KEY_USAGE])
    return await handler(request)


def create_app(settings: Settings, backend_factory: BackendFactory = make_backend,
               backend_name: str | None = None) -> web.Application:
    """The application; resources and the backend open when it starts."""
    app = web.Application(
        client_max_size=settings.api_max_body_bytes,
        middlewares=[observe_middleware(backend_name or settings.search_backend),
                     cors_middleware(settings.api_cors_origins), problem_middleware,
                     limits_middleware(settings), auth_middleware])
    app[SETTINGS] = settings
    app[KEY_CACHE] = KeyCache(settings.api_key_cache_seconds)
    app[RELEVANCE] = RelevanceCache(settings.relevance_cache_seconds)
    app[READY_STATE] = {}
    app[KEY_USAGE] = KeyUsage()
    app[DEADLINES] = Deadlines()
    app.cleanup_ctx.append(resources_ctx(backend_factory))
    app.cleanup_ctx.append(backlog_ctx)
    app.add_routes(search_routes)
    app.add_routes(admin_routes)
    app.add_routes(import_routes)
    app.add_routes(account_routes)
    app.add_routes(health_routes)
    app.add_routes(preview_routes)
    app.add_routes(relevance_routes)
    add_graphql(app)
    return app


async def serve(settings: Settings, stop: asyncio.Event,
                backend_factory: BackendFactory = make_backend) -> None:
    """Run until `stop` is set, then stop accepting, answer the requests in flight (by the
    grace less the close reserve) and close the resources, all within
    API_SHUTDOWN_GRACE_SECONDS."""
    app = create_app(settings, backend_factory)
    grace = settings.api_shutdown_grace_seconds
    answer_within = grace - min(CLOSE_RESERVE_SECONDS, grace / 2)
    runner = ApiRunner(app, access_log=None, shutdown_timeout=answer_within)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.api_host, settings.api_port)
        await site.start()
        log.info("search API listening on http://%s:%d (backend %s)", settings.api_host,
                 site.port, settings.search_backend,
                 extra={"action": "start", "port": site.port})
        await stop.wait()
        in_flight = app[DEADLINES].stop_by(asyncio.get_running_loop().time() + answer_within)
        log.info("stopping: answering %d requests in flight within %.1f s", in_flight,
                 answer_within, extra={"action": "stop"})
    finally:
        await runner.cleanup()
    log.info("search API stopped", extra={"action": "stopped"})
