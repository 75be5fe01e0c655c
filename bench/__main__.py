"""`python -m bench SCENARIO [options]` (also `rustok-search bench ...`): one entry point for
every benchmark; each prints a Markdown table and writes JSON to bench/results/.

Scenarios: catalog (bulk-load the demo catalog), reindex (ours vs the per-entity baseline vs
raw Tantivy), scale (reindex at 10k/100k[/1M] products), write_path, freshness,
capture_latency, search, graphql (the same search over GraphQL and REST), recovery, relevance
(the relevance test set on every backend), import (bulk import to searchable), move (a tenant
between two Meilisearch instances), idle (the CPU of a running service with nothing to do).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

SCENARIOS: dict[str, tuple[str, str]] = {
    "catalog": ("bench.catalog", "bulk-load the demo catalog into a database with COPY"),
    "reindex": ("bench.reindex", "full reindex: ours vs per-entity baseline vs raw Tantivy"),
    "scale": ("bench.scale", "reindex throughput and RSS at 10k, 100k (and 1M) products"),
    "write_path": ("bench.write_path", "core_write units + outbox, then the relay alone"),
    "freshness": ("bench.freshness", "commit-to-searchable latency under a write rate"),
    "capture_latency": ("bench.capture_latency", "psql commit to searchable (capture triggers)"),
    "search": ("bench.search_load", "faceted product search over HTTP"),
    "graphql": ("bench.graphql", "the same product search over GraphQL and REST"),
    "recovery": ("bench.recovery", "convergence after an indexer is SIGKILLed under writes"),
    "relevance": ("bench.relevance", "recall@10 and MRR of the relevance set per backend"),
    "import": ("bench.bulk_import", "bulk import (NDJSON) to searchable vs per-row writes"),
    "move": ("bench.move", "moving a tenant between two Meilisearch instances (30k products)"),
    "idle": ("bench.idle", "CPU of an idle service (relay, indexer, API, PostgreSQL)"),
}


def usage() -> str:
    lines = ["usage: python -m bench SCENARIO [options]   (SCENARIO --help for its options)", ""]
    lines += [f"  {name:<11} {text}" for name, (_, text) in SCENARIOS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in SCENARIOS:
        print(f"unknown scenario {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SCENARIOS[name][0])
    # every scenario's main() parses sys.argv, as it does when run as its own module
    sys.argv = [f"python -m bench {name}", *rest]
    module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
