"""The freshness bench accounts for every planned write, reports the rate it achieved and
tells a slow pipeline from lost writes (pure)."""

from __future__ import annotations

import pytest

from bench.fates import Fate, Ledger, stage_reached, verdict, write_rate
from bench.freshness_stats import histogram_quantiles, quantile, summary_ms


def _ledger() -> Ledger:
    """Ten planned writes: 0-3 seen, 4 seen late, 5 pending, 6 in flight, 7 failed,
    8 skipped, 9 never issued."""
    ledger = Ledger(10)
    for n in range(9):
        ledger.issue(n)
    for n in range(6):
        ledger.commit(n, at=100.0 + n)
    for n in range(4):
        ledger.see(n, late=False)
    ledger.see(4, late=True)
    ledger.fail(7, ValueError("price must be positive"))
    ledger.skip(8)
    return ledger


def test_every_planned_write_has_exactly_one_fate() -> None:
    counts = _ledger().counts()
    assert counts == {Fate.SEEN: 4, Fate.SEEN_LATE: 1, Fate.PENDING: 1, Fate.IN_FLIGHT: 1,
                      Fate.FAILED: 1, Fate.SKIPPED: 1, Fate.NEVER_ISSUED: 1}
    assert sum(counts.values()) == 10
    assert list(counts) == list(Fate)  # the report's rows, in a stable order


def test_nothing_issued_is_all_never_issued() -> None:
    ledger = Ledger(5)
    assert ledger.counts()[Fate.NEVER_ISSUED] == 5
    assert ledger.committed == 0


def test_committed_counts_seen_late_and_pending_and_keeps_errors() -> None:
    ledger = _ledger()
    assert ledger.committed == 6
    assert ledger.last_commit == 105.0
    assert ledger.errors == {"ValueError: price must be positive": 1}


@pytest.mark.parametrize("move", [
    lambda ledger: ledger.see(9, late=False),  # never issued, so never committed
    lambda ledger: ledger.commit(0, at=1.0),  # seen already
    lambda ledger: ledger.issue(5),  # twice
    lambda ledger: ledger.skip(5),  # committed, not in flight
    lambda ledger: ledger.issue(10),  # not planned
])
def test_impossible_moves_are_refused(move: object) -> None:
    with pytest.raises(ValueError):
        move(_ledger())  # type: ignore[operator]


def test_write_rate_is_committed_writes_over_the_time_to_the_last_commit() -> None:
    ledger = _ledger()  # 6 committed, the last at 105
    rate = write_rate(ledger, requested=2.0, started=102.0, window_end=110.0)
    assert rate == {"write_rate_requested_per_s": 2.0, "write_rate_achieved_per_s": 2.0,
                    "write_rate_achieved_share": "100%", "write_seconds": 3.0}
    idle = write_rate(Ledger(4), requested=4.0, started=0.0, window_end=2.0)
    assert idle["write_rate_achieved_per_s"] == 0.0
    assert idle["write_seconds"] == 2.0 and idle["write_rate_achieved_share"] == "0%"


def test_stage_reached_follows_the_outbox_row() -> None:
    assert stage_reached(None) == "no outbox row"
    assert stage_reached({"published": None, "indexed": None}).startswith("committed, not pub")
    assert stage_reached({"published": 1.0, "indexed": None}).startswith("published, not")
    assert stage_reached({"published": 1.0, "indexed": 2.0}).endswith("not visible in Tantivy")


def test_verdict_tells_converged_slow_and_lost_apart() -> None:
    counts = {fate: 0 for fate in Fate} | {Fate.SEEN: 8}
    assert verdict(counts, 60).startswith("converged")
    slow = verdict(counts | {Fate.SEEN_LATE: 2}, 60)
    assert slow.startswith("slow pipeline: 2 writes") and "none lost" in slow
    lost = verdict(counts | {Fate.SEEN_LATE: 2, Fate.PENDING: 3}, 60,
                   ["published, not indexed into Postgres"] * 2 + ["no outbox row"])
    assert lost.startswith("lost: 3 committed writes still not visible 60 s after")
    assert "(2 published, not indexed into Postgres, 1 no outbox row)" in lost
    unknown = verdict(counts | {Fate.PENDING: 1}, 0)
    assert unknown.startswith("missed: 1") and "not known" in unknown


def test_quantiles_and_summaries() -> None:
    values = [float(n) for n in range(1, 101)]
    assert quantile(values, 0.5) == 51.0 and quantile(values, 0.99) == 100.0
    assert summary_ms([0.010, 0.020, 0.030]) == "20.0 / 30.0 (3)"
    assert summary_ms([]) == "-"


def test_histogram_quantiles_count_only_observations_between_the_scrapes() -> None:
    def page(counts: tuple[int, int, int]) -> str:
        return "\n".join(
            f'rustok_index_lag_seconds_bucket{{backend="tantivy",le="{bound}"}} {count}'
            for bound, count in zip(("0.1", "1.0", "+Inf"), counts, strict=True))

    before, after = page((10, 10, 10)), page((10, 60, 110))  # 100 new: 50 ≤ 1 s, 50 above
    assert histogram_quantiles(before, after, "tantivy") == {"p50": 1.0, "p99": float("inf")}
    assert histogram_quantiles(before, after, "postgres") == {"p50": 0.0, "p99": 0.0}
