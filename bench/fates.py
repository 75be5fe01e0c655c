"""The fate of every write a freshness run planned (pure): never issued, skipped, failed, in
flight, committed and still pending, or seen (in time, or only during the extra wait); the
write rate achieved against the one requested, and the verdict on a miss."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Fate(StrEnum):
    """What became of one planned write; the values are the report's keys."""

    SEEN = "seen"
    """visible in the reader before the convergence deadline"""
    SEEN_LATE = "seen_late"
    """visible only during the extra wait after the convergence deadline"""
    PENDING = "pending"
    """committed, still not visible at the end of the extra wait"""
    IN_FLIGHT = "in_flight"
    """its core_write call was still running at the write deadline (cancelled; whether it
    committed is unknown)"""
    FAILED = "failed"
    """core_write raised"""
    SKIPPED = "skipped"
    """not written: every target of its kind had a write of this run in flight"""
    NEVER_ISSUED = "never_issued"
    """not started within the write window: the writers fell behind the requested rate"""


COMMITTED = (Fate.SEEN, Fate.SEEN_LATE, Fate.PENDING)


@dataclass
class Ledger:
    """Each planned write (numbered 0 .. planned-1) moves never issued → in flight → one of
    skipped, failed, pending → seen or seen late. Times are the caller's clock."""

    planned: int
    fates: dict[int, Fate] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    last_commit: float | None = None

    def _move(self, n: int, to: Fate, *allowed: Fate | None) -> None:
        if not 0 <= n < self.planned:
            raise ValueError(f"write {n} was not planned (0..{self.planned - 1})")
        now = self.fates.get(n)
        if now not in allowed:
            raise ValueError(f"write {n}: {now or Fate.NEVER_ISSUED} cannot become {to}")
        self.fates[n] = to

    def issue(self, n: int) -> None:
        self._move(n, Fate.IN_FLIGHT, None)

    def skip(self, n: int) -> None:
        self._move(n, Fate.SKIPPED, Fate.IN_FLIGHT)

    def fail(self, n: int, error: BaseException) -> None:
        self._move(n, Fate.FAILED, Fate.IN_FLIGHT)
        self.errors[f"{type(error).__name__}: {error}"[:200]] += 1

    def commit(self, n: int, at: float) -> None:
        self._move(n, Fate.PENDING, Fate.IN_FLIGHT)
        self.last_commit = at if self.last_commit is None else max(self.last_commit, at)

    def see(self, n: int, *, late: bool) -> None:
        self._move(n, Fate.SEEN_LATE if late else Fate.SEEN, Fate.PENDING)

    def counts(self) -> dict[Fate, int]:
        """Every fate, zeros included; they add up to `planned`."""
        found = Counter(self.fates.values())
        out: dict[Fate, int] = {fate: found[fate] for fate in Fate}
        out[Fate.NEVER_ISSUED] = self.planned - len(self.fates)
        return out

    @property
    def committed(self) -> int:
        counts = self.counts()
        return sum(counts[fate] for fate in COMMITTED)


def write_rate(ledger: Ledger, requested: float, started: float,
               window_end: float) -> dict[str, object]:
    """The rate achieved: writes committed per second from the start of the writes to the
    last commit (or to the end of the write window when nothing committed)."""
    end = ledger.last_commit if ledger.last_commit is not None else window_end
    seconds = max(end - started, 1e-9)
    achieved = ledger.committed / seconds
    return {"write_rate_requested_per_s": requested,
            "write_rate_achieved_per_s": round(achieved, 1),
            "write_rate_achieved_share": f"{achieved / requested:.0%}" if requested else "-",
            "write_seconds": round(seconds, 2)}


def stage_reached(row: Mapping[str, object] | None) -> str:
    """How far a committed but unseen write got, from its outbox row (None: no row)."""
    if row is None:
        return "no outbox row"
    if row.get("published") is None:
        return "committed, not published to the stream"
    if row.get("indexed") is None:
        return "published, not indexed into Postgres"
    return "indexed into Postgres, not visible in Tantivy"


def verdict(counts: Mapping[Fate, int], extra_wait_s: float,
            stages: Iterable[str] = ()) -> str:
    """Converged, a slow pipeline (every committed write seen, some only in the extra wait)
    or lost writes (still unseen after it, with how far they got)."""
    pending, late = counts[Fate.PENDING], counts[Fate.SEEN_LATE]
    if pending and not extra_wait_s:
        return (f"missed: {pending} committed writes not visible by the convergence deadline "
                "(no extra wait: slow or lost is not known)")
    if pending:
        where = ", ".join(f"{n} {stage}" for stage, n in Counter(stages).most_common())
        return (f"lost: {pending} committed writes still not visible {extra_wait_s:.0f} s "
                f"after the convergence deadline" + (f" ({where})" if where else ""))
    if late:
        return (f"slow pipeline: {late} writes became visible only after the convergence "
                f"deadline (within the {extra_wait_s:.0f} s extra wait); none lost")
    return "converged: every committed write was visible before the convergence deadline"
