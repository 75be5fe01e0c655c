"""Relevance: the queries of `bench.relevance_set` against every backend, scored against the
products the ranking rules put first (recall@10 and MRR@10), per backend and per category
of query, with the failing queries listed. Prints Markdown and writes JSON to bench/results/.

    python -m bench relevance [--products 240] [--show-failing 40]

A scratch database gets a one-tenant demo catalog (`bench.lifecycle.scratch_catalog`:
demo-0, language english), its index tables and Tantivy index are built by a full reindex
(as `bench search` does), and with MEILISEARCH_URL set, its Meilisearch indexes too. Every
query runs through `SearchBackend.search` with the scope of a search key of the tenant, as
the API runs it, with `in_stock_first` turned off for the tenant: the set measures text
relevance (stock order has its own conformance cases).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg
import redis.asyncio as aioredis

from bench import lifecycle
from bench.lifecycle import meili_indexes, scratch_catalog
from bench.relevance_set import Expected, mean, recall_at, reciprocal_rank, relevance_set
from bench.report import report
from bench.search_setup import index_products
from core_write.db import with_database
from core_write.services.tenants import update_tenant
from core_write.settings import Settings
from core_write.unit import CoreWrite
from indexer.tantivy.engine import tantivy_config
from indexer.tantivy.reader import TantivyReader
from search_api.auth import create_key
from search_api.backends import SearchBackend
from search_api.backends.meilisearch import MeilisearchBackend
from search_api.backends.postgres import PostgresBackend
from search_api.backends.tantivy import TantivyBackend
from search_api.model import SearchQuery
from search_api.scope import SearchScope

DEFAULT_PRODUCTS = 240
TENANT = "demo-0"


@dataclass(frozen=True)
class Outcome:
    expected: Expected
    handles: list[str]
    """Handles of the first hits, in order."""
    total: int
    recall: float
    rr: float

    @property
    def failed(self) -> bool:
        return self.recall < 1.0 or self.rr < 1.0


@dataclass
class Scores:
    """One backend's outcomes with their means overall and per category."""

    backend: str
    outcomes: list[Outcome] = field(default_factory=list)

    def recall(self, category: str | None = None) -> float:
        return mean(o.recall for o in self._of(category))

    def mrr(self, category: str | None = None) -> float:
        return mean(o.rr for o in self._of(category))

    def categories(self) -> list[str]:
        return list(dict.fromkeys(o.expected.query.category for o in self.outcomes))

    def _of(self, category: str | None) -> list[Outcome]:
        return [o for o in self.outcomes
                if category is None or o.expected.query.category == category]


async def score(backend: SearchBackend, scope: SearchScope,
                expected: Sequence[Expected]) -> Scores:
    """Every query of the set on one backend, as the API runs it (the query model validates
    the text; the scope is the key's)."""
    out = Scores(backend.name)
    for item in expected:
        query = SearchQuery.model_validate({"q": item.query.q, "per_page": 10})
        result = await backend.search(query, scope)
        handles = [str(hit.document.get("handle")) for hit in result.hits]
        out.outcomes.append(Outcome(item, handles, result.total, recall_at(item, handles),
                                    reciprocal_rank(item, handles)))
    return out


@contextlib.asynccontextmanager
async def backends(stack: contextlib.AsyncExitStack, pool: asyncpg.Pool, redis: aioredis.Redis,
                   settings: Settings) -> AsyncIterator[dict[str, SearchBackend]]:
    """Postgres and Tantivy over the indexed catalog, and Meilisearch with a server at
    MEILISEARCH_URL (its indexes are deleted afterwards)."""
    await index_products(pool, settings)
    reader = await stack.enter_async_context(
        TantivyReader(tantivy_config(settings), redis, settings.stream_prefix))
    await reader.refresh(force=True)
    tantivy = TantivyBackend(reader)
    stack.callback(tantivy._threads.shutdown, wait=False)
    found: dict[str, SearchBackend] = {"postgres": PostgresBackend(pool), "tantivy": tantivy}
    if not settings.meilisearch_url:
        yield found
        return
    async with meili_indexes(pool, redis, settings) as follower, \
            MeilisearchBackend(follower.config) as engine:
        found["meilisearch"] = engine
        yield found


async def search_scope(pool: asyncpg.Pool) -> SearchScope:
    """A search key's scope for the relevance tenant, with `in_stock_first` off."""
    tenant = await pool.fetchval("SELECT id FROM tenants WHERE slug = $1", TENANT)
    await CoreWrite(pool).call(update_tenant, tenant, {"settings": {"in_stock_first": False}})
    _, key = await create_key(pool, TENANT, "search")
    scope = key.scope()
    assert not scope.in_stock_first
    return scope


async def evaluate(base: str, redis_url: str, name: str, products: int,
                   meilisearch_url: str = "", prefix: str | None = None) -> list[Scores]:
    """The whole run in a scratch database `name` beside `base`, Redis keys under `prefix`
    (default `bench:NAME`) and /tmp/NAME, all removed afterwards."""
    _, expected = relevance_set(products)
    tantivy_dir = f"/tmp/{name}"
    settings = Settings(DATABASE_URL=with_database(base, name), REDIS_URL=redis_url,
                        RUSTOK_STREAM_PREFIX=prefix or f"bench:{name}", TANTIVY_DIR=tantivy_dir,
                        RUSTOK_ENGINES=("tantivy",), MEILISEARCH_URL=meilisearch_url,
                        MEILISEARCH_INDEX_PREFIX=name.replace("_", "")[:40])
    async with contextlib.AsyncExitStack() as stack:  # undone in reverse order, always
        redis, pool = await scratch_catalog(stack, base, name, redis_url,
                                            settings.stream_prefix, tantivy_dir, products, 0, 4)
        scope = await search_scope(pool)
        async with backends(stack, pool, redis, settings) as found:
            return [await score(backend, scope, expected) for backend in found.values()]


def table(runs: Sequence[Scores]) -> str:
    """recall@10 / MRR per category (rows) and backend (columns), then overall."""
    names = [r.backend for r in runs]
    lines = ["| category | queries | " + " | ".join(f"{n} recall@10 | {n} MRR" for n in names)
             + " |", "|---|---:|" + "---:|---:|" * len(names)]
    counts: Mapping[str, int] = defaultdict(int, {
        c: sum(1 for o in runs[0].outcomes if o.expected.query.category == c)
        for c in runs[0].categories()})
    for category in [*runs[0].categories(), None]:
        label = category or "**all**"
        n = counts[category] if category else len(runs[0].outcomes)
        cells = " | ".join(f"{r.recall(category):.3f} | {r.mrr(category):.3f}" for r in runs)
        lines.append(f"| {label} | {n} | {cells} |")
    return "\n".join(lines)


def failing(runs: Sequence[Scores], limit: int) -> str:
    lines = ["| backend | category | q | recall@10 | RR | expected (first 3) | got (first 3) "
             "| total |", "|---|---|---|---:|---:|---|---|---:|"]
    shown = 0
    for run in runs:
        for o in run.outcomes:
            if o.failed and shown < limit:
                want = ", ".join(sorted(o.expected.relevant)[:3]) or "(nothing)"
                got = ", ".join(o.handles[:3]) or "(nothing)"
                lines.append(f"| {run.backend} | {o.expected.query.category} | "
                             f"`{o.expected.query.q}` | {o.recall:.2f} | {o.rr:.2f} | {want} | "
                             f"{got} | {o.total} |")
                shown += 1
    return "\n".join(lines)


def summary(runs: Sequence[Scores]) -> dict[str, object]:
    out: dict[str, object] = {}
    for run in runs:
        out[f"{run.backend}_recall_at_10"] = round(run.recall(), 4)
        out[f"{run.backend}_mrr"] = round(run.mrr(), 4)
        out[f"{run.backend}_failing"] = sum(o.failed for o in run.outcomes)
        for category in run.categories():
            out[f"{run.backend}_{category.replace(' ', '_')}"] = (
                f"{run.recall(category):.3f} / {run.mrr(category):.3f}")
    return out


async def run(args: argparse.Namespace) -> dict[str, object]:
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/rustok")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"rustok_bench_rel_{uuid.uuid4().hex[:8]}"
    runs = await evaluate(base, redis_url, name, args.products,
                          os.environ.get("MEILISEARCH_URL", ""))
    queries = len(runs[0].outcomes)
    print(f"{queries} queries, {args.products} demo products (tenant {TENANT}, english)\n")
    print(table(runs))
    print(f"\nfailing queries (recall@10 or RR below 1; at most {args.show_failing}):\n")
    print(failing(runs, args.show_failing), end="\n\n")
    sys.stdout.flush()
    return {"queries": queries, "products": args.products, **summary(runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--products", type=int, default=DEFAULT_PRODUCTS)
    parser.add_argument("--show-failing", type=int, default=200, metavar="N")
    report("relevance", lifecycle.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
