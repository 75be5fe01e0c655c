"""Explicit wiring of the API process: the typed app keys, the backend chosen by
`SEARCH_BACKEND`, and the cleanup contexts that open and close them (I/O: connections)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from core_write.errors import RustokError
from core_write.resources import Resources, open_resources
from core_write.settings import Settings
from search_api.backends import SearchBackend
from search_api.relevance_store import RelevanceCache

SETTINGS = web.AppKey("settings", Settings)
RESOURCES = web.AppKey("resources", Resources)
BACKEND = web.AppKey("backend", SearchBackend)
RELEVANCE = web.AppKey("relevance", RelevanceCache)
"""Each tenant's relevance settings and rules, as this process last read them."""

log = logging.getLogger(__name__)
BACKEND_CLOSE_SECONDS = 2.0
BackendFactory = Callable[[Settings, Resources], SearchBackend]


def _backend_module(name: str) -> Any:
    module = f"search_api.backends.{name}"
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            raise NotImplementedError(
                f"SEARCH_BACKEND={name} needs the module {module}, which is not installed "
                "yet") from exc
        raise


def make_backend(settings: Settings, resources: Resources) -> SearchBackend:
    """The configured backend; imports its module only when it is chosen."""
    if settings.search_backend == "postgres":
        backend: SearchBackend = _backend_module("postgres").PostgresBackend(resources.pool)
        return backend
    if settings.search_backend == "meilisearch":
        from indexer.meili.config import meili_config
        from indexer.meili.placement import Placements

        config = meili_config(settings)
        fallback = _backend_module("postgres").PostgresBackend(resources.pool) \
            if settings.search_backend_fallback == "postgres" else None
        backend = _backend_module("meilisearch").MeilisearchBackend(
            config, placements=Placements(resources.pool, resources.redis,
                                          settings.stream_prefix, config),
            fallback=fallback)
        return backend
    from indexer.tantivy.engine import tantivy_config
    from indexer.tantivy.reader import TantivyReader

    module = _backend_module("tantivy")
    reader = TantivyReader(tantivy_config(settings), resources.redis, settings.stream_prefix)
    backend = module.TantivyBackend(reader)
    return backend


async def _start(backend: object) -> contextlib.AsyncExitStack:
    # a Tantivy backend holds a reader that polls for commits, a Meilisearch backend a client
    # that checks the server: start them, close them at exit
    stack = contextlib.AsyncExitStack()
    reader = getattr(backend, "reader", None)
    if reader is not None and hasattr(reader, "__aenter__"):
        await stack.enter_async_context(reader)
    elif hasattr(backend, "__aenter__"):
        await stack.enter_async_context(backend)  # type: ignore[arg-type]
    return stack


async def _start_or_fallback(backend: SearchBackend, settings: Settings, resources: Resources,
                             ) -> tuple[SearchBackend, contextlib.AsyncExitStack]:
    """Start the backend; when its engine cannot be used at start-up and
    `SEARCH_BACKEND_FALLBACK=postgres`, serve from PostgreSQL instead (logged loudly)."""
    try:
        return backend, await _start(backend)
    except RustokError as exc:
        if settings.search_backend_fallback != "postgres" or backend.name == "postgres":
            raise
        log.error("the %s backend cannot be used (%s); serving from postgres "
                  "(SEARCH_BACKEND_FALLBACK=postgres)", backend.name, exc,
                  extra={"action": "backend_fallback"})
        fallback: SearchBackend = _backend_module("postgres").PostgresBackend(resources.pool)
        return fallback, contextlib.AsyncExitStack()


async def _close(stack: contextlib.AsyncExitStack) -> None:
    # bounded: a reader blocked in a Redis read may ignore the first cancellation, and a
    # stopping API must not hang on it (wait_for cancels again when the time is up)
    try:
        await asyncio.wait_for(stack.aclose(), BACKEND_CLOSE_SECONDS)
    except TimeoutError:
        log.warning("the search backend did not close within %.0f s", BACKEND_CLOSE_SECONDS,
                    extra={"action": "stop"})


STATEMENT_GRACE_MS = 1000
"""How much longer than a request's deadline one of its SQL statements may run."""


def resources_ctx(factory: BackendFactory) -> Callable[[web.Application],
                                                       AsyncIterator[None]]:
    """The cleanup context: open PostgreSQL + Redis, then the backend; close in reverse."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        # a statement still running after its request's deadline serves nobody: the server
        # ends it (a client that vanished mid-query does not stop PostgreSQL by itself)
        timeout = app[SETTINGS].api_request_timeout_ms + STATEMENT_GRACE_MS
        async with open_resources(app[SETTINGS], statement_timeout_ms=timeout) as resources:
            app[RESOURCES] = resources
            backend, stack = await _start_or_fallback(factory(app[SETTINGS], resources),
                                                      app[SETTINGS], resources)
            try:
                app[BACKEND] = backend
                yield
            finally:
                await _close(stack)

    return ctx
