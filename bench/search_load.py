"""Search benchmark: a realistic product query mix sent over HTTP by an asyncio client in this
process (never the server's loop) to the API, per backend, next to the same queries run
in-process through the backend and straight against the raw engine (`bench.search`), so the
table shows our overhead. Prints a Markdown table, writes JSON to bench/results/.

    python -m bench.search_load --products 100000 [--backends tantivy,postgres]   # sets up
    MEILISEARCH_URL=... MEILISEARCH_API_KEY=... python -m bench.search_load --products 20000
        # Meilisearch too: its indexes set up, its rows beside the others
    python -m bench.search_load --key KEY[,KEY...] [--backends tantivy,postgres]
        [--port 0] [--concurrency 16] [--duration 20] [--rounds 3] [--no-in-process]
    python -m bench.search_load --url http://127.0.0.1:8080 --key KEY   # a running API only

Without `--url` each backend gets its own `rustok-search api` child (SEARCH_BACKEND set, the
rest of the configuration from the environment); the HTTP load, the in-process backend and
the raw engine take turns in `--rounds` slices (the idle API stays up), so a change in the
load of this shared machine hits every mode alike. `client_cpu_share` is the CPU this client
spent per second of HTTP load (what it took from the server's cores). The mix
comes from the demo generator's vocabulary: 1-3 words, 20% with a one-letter typo in a word
of 5+ letters, half with filters (tags, price range, in stock), every request with category,
tag and price facets, a quarter sorted by price (`--mixes previous`). The `typing` mix has the
same shape with what a search box sends (issue 13): the last word cut short half of the time
(as typed, from one letter), words of every searchable field (title, subtitle, tags, category
names, description), 40% with typos (one from 5 letters, two from 9). Each mix gets its own
rows, measured in turns within the same run. Request n uses key n % len(keys).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import random
import resource
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import aiohttp
import redis.asyncio as aioredis

from bench import lifecycle
from bench.lifecycle import free_port, spawn_cli, stop_process
from bench.report import RESULTS
from bench.search import (
    Timings,
    backend_search,
    concurrent,
    key_scopes,
    meili_engine,
    postgres_engine,
    tantivy_engine,
)
from core_write.db import create_pool
from core_write.settings import Settings
from indexer.meili.config import meili_config
from indexer.tantivy.engine import tantivy_config
from indexer.tantivy.reader import TantivyReader
from rustok_search.demo_data import (
    ADJECTIVES,
    BRANDS,
    CATEGORY_TREE,
    COLORS,
    MATERIALS,
    NOUNS,
    SENTENCE_PARTS,
    TAGS,
)
from search_api.backends.meilisearch import MeilisearchBackend
from search_api.backends.postgres import PostgresBackend
from search_api.backends.tantivy import TantivyBackend
from search_api.model import SearchQuery
from search_api.params import parse_search_params

MIX_SIZE = 2000
REQUEST_TIMEOUT_SECONDS = 30.0
"""A request without an answer by then counts as an error (a stuck API cannot hang us)."""
IN_PROCESS = "backend in-process (no HTTP)"
DEFAULT_BACKENDS = "tantivy,postgres" + (",meilisearch" if os.environ.get("MEILISEARCH_URL")
                                         else "")
ENGINE = "engine"


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1:]  # one deletion


def make_query(rng: random.Random) -> dict[str, str]:
    words = [rng.choice(NOUNS)] + rng.sample(ADJECTIVES + MATERIALS, rng.randint(0, 2))
    if rng.random() < 0.2:
        words[0] = _typo(words[0], rng)
    params = {"q": " ".join(words), "facets": "categories,tags,price", "currency": "EUR"}
    if rng.random() < 0.5:
        choice = rng.randrange(3)
        if choice == 0:
            params["filter.tags"] = rng.choice(TAGS)
        elif choice == 1:
            params["filter.price.currency"] = "EUR"
            params["filter.price.max"] = str(rng.choice((5000, 10000, 25000)))
        else:
            params["filter.has_stock"] = "true"
    if rng.random() < 0.25:
        params["sort"] = rng.choice(("price:asc", "price:desc"))
    return params


FIELD_WORDS = {
    "subtitle": tuple(w.lower() for brand in BRANDS for w in brand.split() if w.isalpha())
    + COLORS,
    "tags": tuple(t for tag in TAGS for t in tag.split("-")),
    "categories": tuple(c.lower() for leaves in CATEGORY_TREE.values() for c in leaves),
    "description": tuple(sorted({w for part in SENTENCE_PARTS for w in part.split()
                                 if len(w) >= 5})),
}
"""Words of the demo products' other searchable fields."""
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _typos(word: str, rng: random.Random) -> str:
    """One typo from 5 letters, two from 9 (a third of the time): deletions, insertions,
    substitutions or transpositions, never on the first letter."""
    count = 2 if len(word) >= 9 and rng.random() < 0.33 else 1
    for _ in range(count):
        i = rng.randrange(1, len(word) - 1)
        kind = rng.randrange(4)
        if kind == 0:
            word = word[:i] + word[i + 1:]
        elif kind == 1:
            word = word[:i] + rng.choice(_LETTERS) + word[i:]
        elif kind == 2:
            word = word[:i] + rng.choice(_LETTERS) + word[i + 1:]
        else:
            word = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word


def make_typing_query(rng: random.Random) -> dict[str, str]:
    """`make_query`'s shape with what a search box sends: words of every field, typos, the
    last word cut short."""
    params = make_query(rng)
    words = params["q"].split()
    words[0] = rng.choice(NOUNS)  # without the previous mix's typo
    if rng.random() < 0.5:  # a word of another field instead of the noun
        words[0] = rng.choice(FIELD_WORDS[rng.choice(sorted(FIELD_WORDS))])
    words = [_typos(w, rng) if len(w) >= 5 and rng.random() < 0.4 else w for w in words]
    if rng.random() < 0.5:  # still typing the last word
        words[-1] = words[-1][:rng.randint(1, max(1, len(words[-1]) - 1))]
    params["q"] = " ".join(words)
    return params


MIXES = {"previous": make_query, "typing": make_typing_query}


def query_mix(seed: int, name: str = "previous") -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [MIXES[name](rng) for _ in range(MIX_SIZE)]


async def http_load(url: str, keys: Sequence[str], mix: Sequence[dict[str, str]],
                    concurrency: int, duration: float, warmup: float = 2.0,
                    measuring: Callable[[], None] | None = None,
                    ) -> tuple[Timings, dict[str, int]]:
    """GET /v1/search/products for each query of the mix from `concurrency` connections;
    the first `warmup` seconds are not measured (`measuring` is called when the measured part
    starts). Statuses are counted per code, requests that got no response (refused, reset,
    past REQUEST_TIMEOUT_SECONDS) as `error`."""
    paths = [f"/v1/search/products?{urlencode(params)}" for params in mix]
    headers = [{"Authorization": f"Bearer {key}"} for key in keys]
    statuses: dict[str, int] = {}
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as http:
        async def one(n: int) -> None:
            try:
                async with http.get(paths[n % len(paths)],
                                    headers=headers[n % len(headers)]) as response:
                    await response.read()
                    status = str(response.status)
            except (aiohttp.ClientError, TimeoutError):
                status = "error"
            statuses[status] = statuses.get(status, 0) + 1

        await concurrent(one, warmup, concurrency)
        statuses.clear()
        if measuring is not None:
            measuring()
        timings = await concurrent(one, duration, concurrency)
    return timings, statuses


def failed(statuses: dict[str, int]) -> int:
    """Requests that did not get a 2xx answer."""
    return sum(n for status, n in statuses.items() if not status.startswith("2"))


def row(backend: str, mode: str, timings: Timings, **extra: Any) -> dict[str, Any]:
    ms = sorted(x * 1000 for x in timings.latencies)
    if not ms:
        raise RuntimeError(f"{backend} {mode}: no request completed")
    return {
        "backend": backend, "mode": mode, "requests": len(ms),
        "requests_per_s": round(len(ms) / timings.elapsed, 1),
        "p50_ms": round(ms[len(ms) // 2], 2),
        "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 2), **extra,
    }


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of this process, or of child `pid` (Linux /proc): what a
    request costs, which a shared machine's load does not change as it changes latency."""
    if pid is None:
        used = resource.getrusage(resource.RUSAGE_SELF)
        return used.ru_utime + used.ru_stime
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def api_process(backend: str, port: int, base: Mapping[str, str] | None = None,
                      ) -> AsyncIterator[tuple[str, int]]:
    """A `rustok-search api` child searching `backend` on `port`, ready when yielded (with
    its pid); its environment is `base` (by default this process's) with those set."""
    start = os.environ if base is None else base
    env = dict(start, SEARCH_BACKEND=backend, API_PORT=str(port), API_HOST="127.0.0.1",
               RUSTOK_LOG_LEVEL=start.get("RUSTOK_LOG_LEVEL", "WARNING"))
    proc = await spawn_cli("api", env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            while True:
                if proc.returncode is not None:
                    raise RuntimeError(f"the {backend} API exited with {proc.returncode}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(f"{url}/readyz") as response:
                        if response.status == 200:
                            break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the {backend} API did not get ready in 60 s")
                await asyncio.sleep(0.2)  # polling a child's readiness, not synchronization
        yield url, proc.pid
    finally:
        await stop_process(proc)


Slice = Callable[[float], Awaitable[Timings]]
"""Runs one mode for the given seconds."""


@contextlib.asynccontextmanager
async def in_process(backend: str, settings: Settings, keys: Sequence[str],
                     mix: Sequence[dict[str, str]],
                     concurrency: int) -> AsyncIterator[dict[str, Slice]]:
    """The backend without HTTP and the raw engine over the same mix and keys, as slices
    (mode name → run it for some seconds)."""
    pool = await create_pool(settings.database_url, max_size=settings.db_pool_max)
    redis = aioredis.Redis.from_url(settings.redis_url)
    try:
        scopes = await key_scopes(pool, keys)
        queries = []
        for n, params in enumerate(mix):
            data, _ = parse_search_params(params.items())
            queries.append((SearchQuery.model_validate({**data, "doc_type": "product"}),
                            scopes[n % len(scopes)]))
        if backend == "postgres":
            postgres = PostgresBackend(pool)
            yield {
                IN_PROCESS: lambda s: backend_search(postgres, queries, s, concurrency),
                f"{ENGINE}: compiled SQL, {settings.db_pool_max} connections":
                    lambda s: postgres_engine(pool, queries, s, concurrency),
            }
        elif backend == "meilisearch":
            config = meili_config(settings)
            async with MeilisearchBackend(config) as meilisearch:
                yield {
                    IN_PROCESS: lambda s: backend_search(meilisearch, queries, s, concurrency),
                    f"{ENGINE}: compiled multi-search bodies over HTTP":
                        lambda s: meili_engine(config, queries, s, concurrency),
                }
        else:
            async with TantivyReader(tantivy_config(settings), redis,
                                     settings.stream_prefix) as reader:
                tantivy = TantivyBackend(reader)
                threads = os.cpu_count() or 1
                yield {
                    IN_PROCESS: lambda s: backend_search(tantivy, queries, s, concurrency),
                    f"{ENGINE}: compiled queries, {threads} threads":
                        lambda s: asyncio.to_thread(tantivy_engine, reader, queries, s,
                                                    threads),
                }
    finally:
        await redis.aclose()
        await pool.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Per backend, the HTTP load and the in-process runs of every mix take turns in `rounds`
    slices, so a change in the machine's load (it is shared) hits every mode alike."""
    mixes = {name: query_mix(args.seed, name) for name in args.mixes.split(",")}
    keys = [k for value in args.key for k in value.split(",") if k]
    rows: list[dict[str, Any]] = []
    http_mode = f"HTTP, concurrency {args.concurrency}"
    if args.url:
        for name, mix in mixes.items():
            timings, statuses = await http_load(args.url, keys, mix, args.concurrency,
                                                args.duration)
            rows.append(row(args.label, http_mode, timings, mix=name,
                            statuses=_named(statuses), failed=failed(statuses)))
        return {"concurrency": args.concurrency, "duration_s": args.duration, "rows": rows}
    settings = Settings()
    mix_keys = {name: keys for name in mixes}
    if args.controls:
        # the same mixes twice, in the same turns: sent to a tenant without relevance
        # controls and to one with 100 synonym groups and 20 active rules
        from bench.relevance_controls import install

        if len(keys) < 2:
            raise SystemExit("--controls needs two tenants' keys (--tenants 2 or more)")
        pool = await create_pool(settings.database_url, min_size=1, max_size=2)
        try:
            await install(pool, keys[0])
        finally:
            await pool.close()
        for name in list(mixes):
            mixes[f"{name}+controls"] = mixes[name]
            mix_keys[f"{name}+controls"] = keys[:1]
            mix_keys[name] = keys[1:2]
    for backend in args.backends.split(","):
        rows += await measure(args, settings, backend, mix_keys, mixes)
    for backend, name in {(r["backend"], r["mix"]) for r in rows}:
        mine = [r for r in rows if r["backend"] == backend and r["mix"] == name]
        engine = next((r for r in mine if r["mode"].startswith(ENGINE)), None)
        for r in mine:
            if engine is not None:
                r["share_of_engine_rate"] = round(r["requests_per_s"]
                                                  / engine["requests_per_s"], 2)
    return {"concurrency": args.concurrency, "duration_s": args.duration,
            "rounds": args.rounds, "products": await _product_count(settings), "rows": rows}


async def measure(args: argparse.Namespace, settings: Settings, backend: str,
                  keys: dict[str, Sequence[str]], mixes: dict[str, list[dict[str, str]]],
                  ) -> list[dict[str, Any]]:
    """One backend: its API child up, then each mode of each mix in turn, `args.rounds`
    times."""
    http_mode = f"HTTP, concurrency {args.concurrency}"
    statuses: dict[tuple[str, str], dict[str, int]] = {}
    measured: dict[tuple[str, str], Timings] = {}
    cpu: dict[str, float] = {}

    cpu_used: dict[tuple[str, str], float] = {}

    async def over_http(seconds: float, url: str, pid: int, name: str) -> Timings:
        before = resource.getrusage(resource.RUSAGE_SELF)
        server = [0.0]

        def measuring() -> None:
            server[0] = cpu_seconds(pid)

        timings, counted = await http_load(url, keys[name], mixes[name], args.concurrency,
                                           seconds, measuring=measuring)
        cpu_used[name, http_mode] = (cpu_used.get((name, http_mode), 0.0)
                                     + cpu_seconds(pid) - server[0])
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu[name] = cpu.get(name, 0.0) + (after.ru_utime - before.ru_utime
                                          + after.ru_stime - before.ru_stime)
        seen = statuses.setdefault((name, http_mode), {})
        for status, n in counted.items():
            seen[status] = seen.get(status, 0) + n
        return timings

    port = args.port or free_port()
    async with api_process(backend, port) as (url, pid), \
            contextlib.AsyncExitStack() as stack:
        slices: dict[tuple[str, str], Slice] = {}
        for name, mix in mixes.items():
            slices[name, http_mode] = functools.partial(over_http, url=url, pid=pid,
                                                        name=name)
            if args.in_process:
                for mode, run_slice in (await stack.enter_async_context(
                        in_process(backend, settings, keys[name], mix,
                                   args.concurrency))).items():
                    slices[name, mode] = run_slice
        for _ in range(args.rounds):
            for key, run_slice in slices.items():
                # in process: the CPU of this process (the API child idles meanwhile);
                # over HTTP the child's, counted by `over_http` without the warm-up
                before = cpu_seconds()
                got = await run_slice(args.duration / args.rounds)
                if key[1] != http_mode:
                    cpu_used[key] = cpu_used.get(key, 0.0) + cpu_seconds() - before
                seen = measured.setdefault(key, Timings([], 0.0))
                seen.latencies += got.latencies
                seen.elapsed += got.elapsed
    rows = []
    for (name, mode), timings in measured.items():
        extra: dict[str, Any] = {"mix": name, "cpu_ms_per_request": round(
            1000 * cpu_used[name, mode] / max(1, len(timings.latencies)), 3)}
        if mode == http_mode:
            # the client's CPU per second of load, warm-ups included (an upper bound)
            extra.update(statuses=_named(statuses.get((name, mode), {})),
                         failed=failed(statuses.get((name, mode), {})),
                         client_cpu_share=round(cpu.get(name, 0.0) / timings.elapsed, 2))
        rows.append(row(backend, mode, timings, **extra))
    return rows


def _named(statuses: dict[str, int]) -> dict[str, int]:
    return dict(sorted(statuses.items()))


async def _product_count(settings: Settings) -> int:
    pool = await create_pool(settings.database_url, max_size=1)
    try:
        return int(await pool.fetchval("SELECT count(*) FROM index_products") or 0)
    finally:
        await pool.close()


def table(result: dict[str, Any]) -> str:
    lines = ["| backend | mix | mode | req/s | p50 ms | p99 ms | CPU ms/req "
             "| share of engine req/s | not 2xx |", "|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['backend']} | {r.get('mix', '')} | {r['mode']} "
                     f"| {r['requests_per_s']} | {r['p50_ms']} | {r['p99_ms']} "
                     f"| {r.get('cpu_ms_per_request', '')} "
                     f"| {r.get('share_of_engine_rate', '')} "
                     f"| {r.get('failed', '')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--key", action="append",
                        help="search API key(s), comma-separated or repeated")
    parser.add_argument("--products", type=int,
                        help="set everything up first: a catalog of this many demo products in "
                             "bench_search_<N> (reused), indexed into Postgres and Tantivy, one "
                             "key per tenant; --key is then not needed")
    parser.add_argument("--tenants", type=int, default=3, help="with --products")
    parser.add_argument("--url", help="benchmark this running API only (HTTP)")
    parser.add_argument("--label", default="api", help="with --url: the row's backend name")
    parser.add_argument("--backends", default=DEFAULT_BACKENDS,
                        help="comma-separated; default tantivy,postgres, plus meilisearch when "
                             "MEILISEARCH_URL is set")
    parser.add_argument("--port", type=int, default=0,
                        help="the API children's port (0: a free one)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mixes", default="previous,typing",
                        help=f"query mixes, comma-separated ({', '.join(MIXES)})")
    parser.add_argument("--rounds", type=int, default=3,
                        help="turns each mode takes (duration is split among them)")
    parser.add_argument("--controls", action="store_true",
                        help="also each mix against a tenant with 100 synonym groups and 20 "
                             "active rules (the first key's), the plain one against the "
                             "second key's tenant, in the same turns (the HTTP rows: the "
                             "in-process ones skip the API's relevance layer)")
    parser.add_argument("--no-in-process", dest="in_process", action="store_false",
                        help="skip the backend-without-HTTP and raw engine runs")
    args = parser.parse_args(argv)
    if args.products:
        from bench.search_setup import prepare

        args.key = [",".join(lifecycle.run(prepare(args.products, args.tenants)))]
    elif not args.key:
        parser.error("give --key (a running API's search keys) or --products N")
    result = lifecycle.run(run(args))
    print(table(result))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"search_{int(time.time())}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"\nJSON: bench/results/{out.name}")


if __name__ == "__main__":
    main()
