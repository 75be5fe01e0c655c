"""Where the time went in a freshness run: latency quantiles, the indexer's lag histogram
between two scrapes of its metrics (pure), and per-stage times from the outbox rows (I/O:
one query)."""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence

import asyncpg

from bench.freshness_writes import Probe


def buckets(text: str, backend: str) -> dict[float, float]:
    """The cumulative buckets of rustok_index_lag_seconds for one backend in a scrape."""
    found = {}
    for line in text.splitlines():
        if line.startswith("rustok_index_lag_seconds_bucket") and f'backend="{backend}"' in line:
            bound = line.split('le="')[1].split('"')[0]
            found[float("inf") if bound == "+Inf" else float(bound)] = float(
                line.rsplit(" ", 1)[1])
    return found


def histogram_quantiles(before: str, after: str, backend: str) -> dict[str, float]:
    """p50/p99 (upper bucket bound) of rustok_index_lag_seconds for one backend, over the
    observations made between two scrapes."""
    start, end = buckets(before, backend), buckets(after, backend)
    counted = sorted((bound, count - start.get(bound, 0.0)) for bound, count in end.items())
    total = counted[-1][1] if counted else 0.0
    out = {}
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        out[name] = next((b for b, count in counted if total and count >= q * total), 0.0)
    return out


def quantile(values: Sequence[float], q: float) -> float:
    """The value below which a share `q` of `values` lies (nearest rank; values not empty)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary_ms(seconds: Sequence[float]) -> str:
    """The median and p99 in milliseconds, and how many: `12.3 / 45.6 (789)`; `-` for none."""
    if not seconds:
        return "-"
    ms = [x * 1000 for x in seconds]
    return f"{statistics.median(ms):.1f} / {quantile(ms, 0.99):.1f} ({len(ms)})"


async def stage_times(pool: asyncpg.Pool, done: Sequence[tuple[Probe, float]],
                  announced: Sequence[float]) -> dict[str, str]:
    """p50 / p99 of where the time went, from the outbox row of each write's last event:
    outbox insert → published on the stream (relay), → indexed into the Postgres tables
    (consumer), → the engine writer's commit announcement that made it visible (the last one
    before it was seen), → visible in the reader (reader wake-up and reload). Apart: outbox
    insert → the write's call returned to this bench (its commit, plus any delay of this
    process's event loop, which the commit-to-visible times then leave out)."""
    rows = {r["seq"]: r for r in await pool.fetch(
        "SELECT seq, extract(epoch FROM created_at) AS created, "
        "extract(epoch FROM published_at) AS published, "
        "extract(epoch FROM indexed_at) AS indexed FROM outbox WHERE seq = ANY($1::bigint[])",
        [p.token for p, _ in done if p.token is not None])}
    spans: dict[str, list[float]] = {"outbox_insert_to_published": [],
                                      "published_to_pg_indexed": [],
                                      "pg_indexed_to_engine_commit": [],
                                      "engine_commit_to_visible": [],
                                      "outbox_insert_to_write_returned": []}
    for probe, latency in done:
        row = rows.get(probe.token)
        if row is None or row["published"] is None or row["indexed"] is None:
            continue
        visible = probe.committed_wall + latency
        spans["outbox_insert_to_published"].append(float(row["published"] - row["created"]))
        spans["outbox_insert_to_write_returned"].append(probe.committed_wall
                                                        - float(row["created"]))
        spans["published_to_pg_indexed"].append(float(row["indexed"] - row["published"]))
        commit = bisect.bisect_right(announced, visible) - 1
        if commit >= 0 and announced[commit] >= float(row["indexed"]):
            spans["pg_indexed_to_engine_commit"].append(announced[commit] - float(row["indexed"]))
            spans["engine_commit_to_visible"].append(visible - announced[commit])
    out = {f"stage_{name}_p50_p99_ms": f"{statistics.median(v) * 1000:.1f} / "
                                        f"{quantile(v, 0.99) * 1000:.1f}"
           for name, v in spans.items() if v}
    gaps = [b - a for a, b in zip(announced, announced[1:], strict=False)]
    if gaps:  # how often the engine writer committed (one message per doc type committed)
        out["engine_commit_gap_p50_p99_ms"] = (f"{statistics.median(gaps) * 1000:.1f} / "
                                               f"{quantile(gaps, 0.99) * 1000:.1f}")
    return out
