"""In-process runs of the search benchmark (I/O: the Tantivy index, PostgreSQL): the same
query mix as the HTTP load, without HTTP, against

- the raw engine: precompiled queries straight into Tantivy (top hits or fast-field sort with
  count, the page's stored documents, the facet/stats aggregations) on a thread per core,
  the compiled SQL statements on asyncpg connections, or the compiled multi-search bodies
  posted to Meilisearch (responses read, not parsed): what the engine can do;
- the backend: `SearchBackend.search` on an event loop, i.e. ours minus HTTP, auth and JSON.

Compared with the HTTP numbers of `bench.search_load`, they show where the time goes.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import tantivy

from indexer.meili.client import IDENTITY
from indexer.meili.config import MeiliConfig
from indexer.tantivy.reader import TantivyReader
from search_api import compile_meili
from search_api.auth import lookup_key
from search_api.backends import SearchBackend
from search_api.backends.meilisearch import search_bodies
from search_api.compile_pg import compile_hits
from search_api.compile_tantivy import aggregations, clauses, fast_sort, scoped
from search_api.model import SearchQuery
from search_api.pg_facets import compile_facets
from search_api.scope import SearchScope


@dataclass
class Timings:
    """Latencies (seconds) of the requests completed in a measured window."""

    latencies: list[float]
    elapsed: float


@dataclass(frozen=True)
class _TantivyPlan:
    main: tantivy.Query
    aggregations: list[tuple[tantivy.Query, dict[str, Any]]]
    sort: tuple[str, tantivy.Order] | None
    offset: int
    limit: int


def _plan(index: tantivy.Index, query: SearchQuery, scope: SearchScope,
          currencies: Sequence[str]) -> _TantivyPlan:
    named = clauses(index, query, scope, currencies)
    unscored = clauses(index, query, scope, currencies, scored=False)
    main, matching = scoped(index.schema, scope, named), scoped(index.schema, scope, unscored)
    sort = fast_sort(query)
    return _TantivyPlan(main if sort is None else matching,
                        aggregations(index.schema, query, scope, unscored, matching, currencies),
                        sort, query.offset, query.per_page)


def _run_plan(searcher: tantivy.Searcher, plan: _TantivyPlan) -> int:
    if plan.sort is None:
        found: Any = searcher.search(plan.main, plan.limit, count=True, offset=plan.offset)
    else:
        field, order = plan.sort
        found = searcher.search(plan.main, plan.limit, count=True, offset=plan.offset,
                                order_by_field=field, order=order)
    for _, address in found.hits:
        searcher.doc(address)
    for target, request in plan.aggregations:
        searcher.aggregate(target, request)
    return int(found.count or 0)


def tantivy_engine(reader: TantivyReader, queries: Sequence[tuple[SearchQuery, SearchScope]],
                   duration: float, threads: int | None = None) -> Timings:
    """The compiled queries run straight against the index on `threads` threads (default:
    one per core; Tantivy releases the GIL while it searches)."""
    index = reader.index("product")
    if index is None:
        raise RuntimeError("no product index: run the indexer first")
    currencies = tuple(reader.config.currencies)
    plans = [_plan(index, query, scope, currencies) for query, scope in queries]
    searcher = index.searcher()
    return _threaded(lambda n: _run_plan(searcher, plans[n % len(plans)]), duration,
                     threads or os.cpu_count() or 1)


def _threaded(call: Callable[[int], object], duration: float, threads: int) -> Timings:
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + duration

    def worker(first: int) -> None:
        n, mine = first, []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            call(n)
            mine.append(time.perf_counter() - started)
            n += threads
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker, i) for i in range(threads)]:
            future.result()
    return Timings(latencies, time.perf_counter() - started)


async def postgres_engine(pool: asyncpg.Pool,
                          queries: Sequence[tuple[SearchQuery, SearchScope]],
                          duration: float, concurrency: int) -> Timings:
    """The compiled statements of each query (hits; facets with price stats) on `concurrency`
    connections, rows left unmapped."""
    compiled = []
    for query, scope in queries:
        statements = [compile_hits(query, scope),
                      compile_facets(query, scope, price_stats=True)]
        compiled.append([s for s in statements if s is not None])

    async def one(n: int) -> None:
        async with pool.acquire() as conn, conn.transaction(readonly=True):
            for statement in compiled[n % len(compiled)]:
                await conn.fetch(statement.sql, *statement.params)

    return await concurrent(one, duration, concurrency)


async def meili_engine(config: MeiliConfig,
                       queries: Sequence[tuple[SearchQuery, SearchScope]],
                       duration: float, concurrency: int) -> Timings:
    """The first multi-search of each query (what `MeilisearchBackend.search` sends, as JSON
    prepared beforehand) posted on `concurrency` connections, responses read unparsed."""
    bodies = []
    for query, scope in queries:
        plan = compile_meili.plan(query, scope, config.prefix, config.currencies)
        bodies.append(json.dumps({"queries": search_bodies(plan.requests)}).encode())
    headers = {"Content-Type": "application/json", **IDENTITY}  # as the backend asks
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(config.url, connector=connector,
                                     headers=headers) as http:
        async def one(n: int) -> None:
            async with http.post("/multi-search", data=bodies[n % len(bodies)]) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"meilisearch answered {response.status}")

        return await concurrent(one, duration, concurrency)


async def backend_search(backend: SearchBackend,
                         queries: Sequence[tuple[SearchQuery, SearchScope]],
                         duration: float, concurrency: int) -> Timings:
    """`backend.search` for each query at `concurrency` requests in flight on this loop."""
    async def one(n: int) -> None:
        query, scope = queries[n % len(queries)]
        await backend.search(query, scope)

    return await concurrent(one, duration, concurrency)


async def concurrent(call: Callable[[int], Any], duration: float,
                     concurrency: int) -> Timings:
    """`await call(n)` from `concurrency` tasks until `duration` has passed."""
    latencies: list[float] = []
    deadline = time.perf_counter() + duration

    async def worker(first: int) -> None:
        n = first
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call(n)
            latencies.append(time.perf_counter() - started)
            n += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return Timings(latencies, time.perf_counter() - started)


async def key_scopes(pool: asyncpg.Pool, keys: Sequence[str]) -> list[SearchScope]:
    """What each API key searches (its tenant and language, as the API sees it)."""
    out = []
    for key in keys:
        found = await lookup_key(pool, key)
        if found is None or found.tenant_id is None:
            raise ValueError(f"{key[:10]}...: not a live tenant key")
        out.append(found.scope())
    return out
