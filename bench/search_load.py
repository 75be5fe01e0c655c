"""Search load generator: an asyncio HTTP client in its own process (never the server's loop)
sending a realistic query mix to a running API. Prints a Markdown table, writes JSON.

    python -m bench.search_load --url http://127.0.0.1:8080 --key KEY [--concurrency 16]
        [--duration 20] [--seed 1]

The mix comes from the demo generator's vocabulary: 1-3 words, 20% with a one-letter typo in
a word of 5+ letters, half with filters (tags, price range, in stock), every request with
category, tag and price facets, a quarter sorted by price.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from typing import Any

import aiohttp

from bench.report import report
from core_write.demo_data import ADJECTIVES, MATERIALS, NOUNS, TAGS


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1:]  # one deletion


def make_query(rng: random.Random) -> dict[str, Any]:
    words = [rng.choice(NOUNS)] + rng.sample(ADJECTIVES + MATERIALS, rng.randint(0, 2))
    if rng.random() < 0.2:
        words[0] = _typo(words[0], rng)
    params: dict[str, Any] = {"q": " ".join(words), "facets": "categories,tags,price",
                              "currency": "EUR"}
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


async def run(args: argparse.Namespace) -> dict[str, object]:
    rng = random.Random(args.seed)
    queries = [make_query(rng) for _ in range(2000)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    headers = {"Authorization": f"Bearer {args.key}"}
    deadline = time.perf_counter() + args.duration
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(args.url, headers=headers, connector=connector) as http:
        async def worker(offset: int) -> None:
            n = offset
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with http.get("/v1/search/products",
                                    params=queries[n % len(queries)]) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                latencies.append(time.perf_counter() - started)
                n += args.concurrency

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(args.concurrency)))
        elapsed = time.perf_counter() - started
    ms = sorted(x * 1000 for x in latencies)
    return {
        "url": args.url, "concurrency": args.concurrency, "requests": len(ms),
        "requests_per_s": round(len(ms) / elapsed, 1),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--key", required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--label", default="search")
    args = parser.parse_args()
    report(f"search_{args.label}", asyncio.run(run(args)))


if __name__ == "__main__":
    main()
