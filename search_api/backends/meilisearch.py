"""The external-engine backend: the search contract over Meilisearch, one index per tenant
and document type (I/O: HTTP through meilisearch-python-sdk).

Queries come from the pure `search_api.compile_meili`; one search is one multi-search round
trip (the page with the facets, price buckets and stats counted under its filter, plus one
counting query per other filter a facet ignores, and a lookup of the documents the whole query
identifies), and a second one only when it identified some (how many the text matches too) or
for price buckets over more distinct prices than Meilisearch counts.

With several instances (`MEILISEARCH_INSTANCES`) each search goes to the instance the
tenant's placement names (`indexer.meili.placement`, cached for the placement TTL and
dropped when a move is announced). An instance that cannot be reached fails its tenants'
searches at once with a 503 naming it (after a failure it is not asked again until a probe
of its /health answers),
or, with `SEARCH_BACKEND_FALLBACK=postgres`, answers them from PostgreSQL; the other
instances' tenants are not affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.errors import (
    MeilisearchCommunicationError,
    MeilisearchError,
    MeilisearchTimeoutError,
)
from meilisearch_python_sdk.models.search import SearchParams

from core_write.backoff import pause
from core_write.errors import InstanceDown, MeiliUnavailable, Unavailable
from indexer.meili import client as meili
from indexer.meili.config import MeiliConfig
from indexer.meili.placement import Placements
from indexer.model import DocType
from indexer.model.text import price_field_pair, query_words
from search_api import compile_meili, metrics
from search_api.backends import SearchBackend
from search_api.backends.highlight import mark_prefixes
from search_api.meili_requests import Plan, Request
from search_api.model import SearchQuery
from search_api.results import SearchResult, Suggestion
from search_api.scope import SearchScope

log = logging.getLogger(__name__)

PROBE_SECONDS = 0.5
"""Once a request failed to reach an instance, its tenants' searches fail (or fall back)
without asking it, while a probe asks its /health this often (each probe bounded by a
second) until it answers: a down instance costs them no connect timeout."""
UNREACHABLE = (MeilisearchCommunicationError, MeilisearchTimeoutError, OSError,
               asyncio.TimeoutError)


def search_bodies(requests: list[Request]) -> list[dict[str, Any]]:
    """The JSON queries of compiled requests (the SDK's names and defaults, unset values left
    to the server)."""
    return [SearchParams(**{k: v for k, v in r.params.items() if v is not None}
                         ).model_dump(by_alias=True, exclude_none=True) for r in requests]


class MeilisearchBackend:
    """`SearchBackend` over one or several Meilisearch servers."""

    name = "meilisearch"

    def __init__(self, config: MeiliConfig, client: AsyncClient | None = None, *,
                 placements: Placements | None = None,
                 fallback: SearchBackend | None = None) -> None:
        """`client` talks to the first instance (opened here when not given). Without
        `placements` every search goes to the first instance; `fallback` answers the
        searches of a down instance's tenants."""
        self.config = config
        self.clients: dict[str, AsyncClient] = {}
        for number, server in enumerate(config.servers):
            self.clients[server.name] = client if number == 0 and client is not None \
                else meili.open_client(config.on(server.name))
        self.client = next(iter(self.clients.values()))
        self.placements = placements
        self.fallback = fallback
        self.searchers = {name: meili.Searcher(config.on(name)) for name in self.clients}
        """Searches go over aiohttp (`meili.Searcher`), one per instance."""
        self.currencies = tuple(config.currencies)
        self.down: dict[str, asyncio.Task[None]] = {}
        """The instances found unreachable, each with the probe that clears it."""
        self.health: dict[str, dict[str, Any]] = {}
        """Per instance, what the last `ready` found (for /readyz)."""
        self._stop = asyncio.Event()
        self._listening: asyncio.Task[None] | None = None

    async def __aenter__(self) -> MeilisearchBackend:
        """Check the servers at start-up: when none can be used, `MeiliUnavailable` says
        whether the URL cannot be reached or the key is refused; one that cannot is logged
        (its tenants get 503s until it answers)."""
        errors: list[MeiliUnavailable] = []
        failed: list[str] = []
        for name, client in self.clients.items():
            try:
                await meili.check(client, self.config.on(name), for_search=True)
            except MeiliUnavailable as exc:
                errors.append(exc)
                failed.append(name)
                log.error("%s", exc.message, extra={"action": "meili_instance_down"})
        if len(errors) == len(self.clients):
            await self._close_clients()
            raise errors[0]
        for name in failed:
            self._mark_down(name)
        if self.placements is not None:
            self._listening = asyncio.create_task(self.placements.listen(self._stop),
                                                  name="meili-placements")
        return self

    def _mark_down(self, name: str) -> None:
        if name not in self.down:
            self.down[name] = asyncio.create_task(self._probe(name), name=f"meili-probe-{name}")

    async def _probe(self, name: str) -> None:
        """Until the instance answers /health (or the backend closes)."""
        client = self.clients[name]
        while not self._stop.is_set():
            try:
                async with asyncio.timeout(1.0):
                    if (await client.health()).status == "available":
                        break
            except (MeilisearchError, *UNREACHABLE):
                pass
            await pause(PROBE_SECONDS, self._stop)
        else:
            return
        self.down.pop(name, None)
        log.info("meilisearch instance %s answers again", name,
                 extra={"action": "meili_instance_up"})

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        tasks = [*self.down.values(), *([self._listening] if self._listening else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._close_clients()

    async def _close_clients(self) -> None:
        for searcher in self.searchers.values():
            with contextlib.suppress(Exception):
                await searcher.close()
        for client in self.clients.values():
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _instance(self, tenant_id: uuid.UUID) -> str | None:
        """The instance holding the tenant's indexes; None when it has none yet."""
        first = next(iter(self.clients))
        if self.placements is None:
            return first
        placement = await self.placements.get(tenant_id)
        if placement is None:
            return first if len(self.clients) == 1 else None
        return placement.instance

    async def search(self, query: SearchQuery, scope: SearchScope) -> SearchResult:
        started = time.perf_counter()
        if query.doc_type == "product" and query.sort.startswith("price"):
            price_field_pair(query.price_currency, self.currencies, "currency")
        instance = await self._instance(scope.tenant_id)
        plan = compile_meili.plan(query, scope, self.config.prefix, self.currencies)
        try:
            responses = None if instance is None else \
                await self._multi_search(plan.requests, instance)
        except InstanceDown:
            if self.fallback is None:
                raise
            metrics.FALLBACK_SEARCHES.labels(instance or "").inc()
            return await self.fallback.search(query, scope)
        if responses is None:
            result = compile_meili.empty_result(query, self.name)
        else:
            extra = compile_meili.followup(plan, responses)
            assert instance is not None
            more = await self._multi_search(extra, instance) if extra else None
            if more is not None:  # an identifier matched, or too many distinct prices
                plan = Plan(query, plan.uid, [*plan.requests, *extra])
                responses += more
            result = compile_meili.result(plan, responses, self.name)
        return result.model_copy(update={"took_ms": (time.perf_counter() - started) * 1000})

    async def _multi_search(self, requests: list[Request], instance: str,
                            ) -> list[dict[str, Any]] | None:
        """The responses, or None when the tenant's index does not exist yet."""
        searcher = self.searchers.get(instance)
        if searcher is None:
            raise Unavailable(f"the tenant's indexes are on meilisearch instance {instance}, "
                              f"which this process does not know (MEILISEARCH_INSTANCES "
                              f"names {', '.join(self.clients)})")
        url = self.config.on(instance).url
        if instance in self.down:
            raise InstanceDown(instance, url, "it did not answer, probing it")
        try:
            return await searcher.multi_search(search_bodies(requests))
        except meili.MeiliUnavailable as exc:
            self._mark_down(instance)
            raise InstanceDown(instance, url, exc) from None
        except meili.SearchRefused as exc:
            if exc.code == meili.NOT_FOUND:
                return None
            # every user value was validated before compiling: a refusal means the index
            # does not match the code (settings not applied yet) and is ours, not the user's
            raise Unavailable(f"meilisearch refused the query ({exc.code}): {exc.message}"
                              ) from None

    async def suggest(self, doc_type: DocType, prefix: str, scope: SearchScope,
                      limit: int = 8) -> list[Suggestion]:
        words = query_words(prefix)
        if not words:
            return []
        limit = max(1, min(limit, 50))
        params = compile_meili.suggest_params(doc_type, self.config.prefix, scope,
                                              " ".join(words), limit)
        instance = await self._instance(scope.tenant_id)
        try:
            found = None if instance is None else \
                await self._multi_search([Request("main", params)], instance)
        except InstanceDown:
            if self.fallback is None:
                raise
            return await self.fallback.suggest(doc_type, prefix, scope, limit)
        if found is None:
            return []
        return [Suggestion(id=uuid.UUID(str(h["id"])), title=str(h["title"]),
                           highlighted=mark_prefixes(str(h["title"]), words))
                for h in found[0]["hits"] if h.get("title")]

    async def caught_up(self) -> None:
        """Nothing to do: the follower empties the queue after Meilisearch's task succeeded,
        and a succeeded task is visible to every search."""

    async def ready(self) -> bool:
        """True while at least one instance answers (a down instance fails only its own
        tenants' searches, so it does not take the API out of the load balancer); what
        each instance answered, with the tenants placed on it, is in `health` and the
        gauges."""
        async def probe(name: str, client: AsyncClient) -> tuple[str, str | None]:
            try:
                async with asyncio.timeout(self.config.timeout_ms / 1000):
                    health = await client.health()
            except (MeilisearchError, *UNREACHABLE) as exc:
                return name, f"{type(exc).__name__}: {exc}"[:300]
            return name, None if health.status == "available" else health.status

        answers = dict(await asyncio.gather(*(probe(n, c) for n, c in self.clients.items())))
        tenants: dict[str, int] = {}
        if self.placements is not None:
            with contextlib.suppress(Exception):
                tenants = await self.placements.tenants()
        health: dict[str, dict[str, Any]] = {}
        for name, error in answers.items():
            up = error is None
            if not up:
                self._mark_down(name)
            entry: dict[str, Any] = {"ok": up, "url": self.config.on(name).url}
            if name in tenants:
                entry["tenants"] = tenants[name]
                metrics.MEILI_INSTANCE_TENANTS.labels(name).set(tenants[name])
            if error is not None:
                entry["error"] = error
            metrics.MEILI_INSTANCE_UP.labels(name).set(1 if up else 0)
            health[name] = entry
        self.health = health
        return any(entry["ok"] for entry in health.values())
