"""Reindex throughput and peak RSS as the catalog grows (I/O).

The full product reindex (ours: new generation table + Tantivy fed the rows) at 10k and 100k
products, and 1M with `--with-1m`, each in a child process reporting its peak RSS. Time
should grow linearly and memory stay flat.

    python -m bench scale [--with-1m] [--sizes 10000,100000]

Catalogs are bulk-loaded (bench/catalog.py) into `bench_reindex_<N>`, shared with the
reindex bench and reused when present. Prints a Markdown table, writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import sys

from bench import lifecycle
from bench.reindex import CHILD_TIMEOUT_SECONDS, measure, prepare_catalog
from bench.report import report

SIZES = (10_000, 100_000)
ONE_MILLION = 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench scale",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="comma-separated catalog sizes (default 10000,100000)")
    parser.add_argument("--with-1m", action="store_true", help="also 1,000,000 products "
                        "(loads ~7.5 GB, about 10 minutes)")
    parser.add_argument("--tenants", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="REINDEX_WORKERS")
    parser.add_argument("--modes", default="ours", help="reindex modes to run per size "
                        "(see python -m bench reindex --help)")
    parser.add_argument("--child-timeout", type=float, default=CHILD_TIMEOUT_SECONDS,
                        help="seconds one measurement may take before its child is killed")
    args = parser.parse_args()
    args.baseline_products = 0
    args.start = "empty"
    sizes = sorted({int(size) for size in args.sizes.split(",") if size}
                   | ({ONE_MILLION} if args.with_1m else set()))
    modes = tuple(m for m in args.modes.split(",") if m)
    rows: dict[str, object] = {}
    smallest: dict[str, float] = {}  # per mode, its rate at the smallest size
    for size in sizes:
        dsn = lifecycle.run(prepare_catalog(f"bench_reindex_{size}", size, args.tenants))
        for mode, result in measure(dsn, args, modes).items():
            label = f"{size:>9,} products, {mode}"
            rate = float(result["rate"])
            base = smallest.setdefault(mode, rate)
            rows[f"{label}: products done"] = f"{result['products']:,}"
            rows[f"{label}: seconds"] = f"{result['seconds']:.1f}"
            rows[f"{label}: products/s"] = f"{rate:,.0f} ({rate / base:.0%} of the smallest)"
            rows[f"{label}: peak RSS MB"] = f"{result['peak_rss_mb']:.0f}"
            if "peak_anon_mb" in result:
                rows[f"{label}: peak heap (RssAnon) / mapped files (RssFile) MB"] = \
                    f"{result['peak_anon_mb']:.0f} / {result['peak_file_mb']:.0f}"
            rows[f"{label}: machine load average"] = result["load_average"]
            print(f"{label}: {rate:,.0f} products/s, {result['peak_rss_mb']:.0f} MB",
                  file=sys.stderr)
    report("scale", rows)


if __name__ == "__main__":
    main()
