"""The aiohttp application: middlewares (access log + metrics, CORS, problem+json, limits,
auth), routes, resources opened by a cleanup context, and `serve` with graceful shutdown
(I/O: the HTTP server)."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from core_write.settings import Settings
from search_api import metrics
from search_api.auth import API_KEY, KeyCache, KeyUsage, authenticate, protected
from search_api.errors import Problem, problem_middleware
from search_api.freshness import backlog_ctx
from search_api.graphql.schema import add_graphql
from search_api.routes_accounts import routes as account_routes
from search_api.routes_admin import routes as admin_routes
from search_api.routes_health import READY_STATE
from search_api.routes_health import routes as health_routes
from search_api.routes_preview import routes as preview_routes
from search_api.routes_search import routes as search_routes
from search_api.wiring import RESOURCES, SETTINGS, BackendFactory, make_backend, resources_ctx

KEY_CACHE = web.AppKey("key_cache", KeyCache)
KEY_USAGE = web.AppKey("key_usage", KeyUsage)

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
    """Query-string length and the per-request deadline (503 problem when it passes)."""
    timeout = settings.api_request_timeout_ms / 1000

    @web.middleware
    async def limits(request: web.Request, handler: Handler) -> web.StreamResponse:
        if len(request.query_string) > settings.api_max_query_bytes:
            raise Problem(414, f"the query string is longer than "
                               f"{settings.api_max_query_bytes} bytes",
                          errors=[{"field": "query", "message": "too long"}])
        try:
            async with asyncio.timeout(timeout):
                return await handler(request)
        except TimeoutError:
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
    app[READY_STATE] = {}
    app[KEY_USAGE] = KeyUsage()
    app.cleanup_ctx.append(resources_ctx(backend_factory))
    app.cleanup_ctx.append(backlog_ctx)
    app.add_routes(search_routes)
    app.add_routes(admin_routes)
    app.add_routes(account_routes)
    app.add_routes(health_routes)
    app.add_routes(preview_routes)
    add_graphql(app)
    return app


async def serve(settings: Settings, stop: asyncio.Event,
                backend_factory: BackendFactory = make_backend) -> None:
    """Run until `stop` is set, then stop accepting, let requests in flight finish (up to
    API_SHUTDOWN_GRACE_SECONDS) and close the resources."""
    app = create_app(settings, backend_factory)
    runner = web.AppRunner(app, access_log=None,
                           shutdown_timeout=settings.api_shutdown_grace_seconds)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.api_host, settings.api_port)
        await site.start()
        log.info("search API listening on http://%s:%d (backend %s)", settings.api_host,
                 settings.api_port, settings.search_backend, extra={"action": "start"})
        await stop.wait()
        log.info("stopping: finishing requests in flight", extra={"action": "stop"})
    finally:
        await runner.cleanup()
    log.info("search API stopped", extra={"action": "stopped"})
