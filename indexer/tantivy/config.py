"""Settings of the embedded Tantivy engine and the Redis names its writer and readers share
(pure: no I/O; the entry point maps environment variables onto `TantivyConfig`)."""

from __future__ import annotations

from dataclasses import dataclass

from core_write.currencies import ISO_4217
from core_write.errors import ValidationFailed
from core_write.process_settings import DEFAULT_CURRENCIES
from indexer.model import DocType


@dataclass(frozen=True)
class TantivyConfig:
    """Where the indexes live and how the single writer batches and commits."""

    index_dir: str = "./data/tantivy"
    writer_heap_mb: int = 128
    writer_threads: int = 1
    """Indexing threads of each writer. One: every commit then writes one segment, not one
    per thread, so tantivy merges less (measured: 105 -> 85 us of CPU per product document
    committed 2,000 at a time, on 2 cores); more only helps a writer that has cores to
    itself."""
    commit_interval_ms: int = 50
    """Upper bound on how long applied work waits for its commit, and the minimum spacing
    between two commits (so a trickle of changes is not committed one document at a time)."""
    commit_max_docs: int = 5000
    """Commit as soon as this many documents wait, whatever the time."""
    commit_bulk_docs: int = 500
    """A window that applied this many documents makes the next one a bulk window: one that
    keeps reading, through the gaps between bursts, for `commit_bulk_interval_ms` or up to
    `commit_max_docs` (a commit costs tens of ms of CPU whatever its size: per 500 documents
    that is more than indexing them)."""
    commit_bulk_interval_ms: int = 1000
    """How long a bulk window gathers before its commit (less once `commit_max_docs` wait)."""
    batch: int = 2000
    """Queue rows read (and index rows fetched) per round trip."""
    currencies: tuple[str, ...] = DEFAULT_CURRENCIES
    """Currencies that get `price_min_{cur}` / `price_max_{cur}` fast fields (lowercased)."""
    poll_interval_ms: int = 1000
    """The fallbacks: the follower looks at an idle queue this often when no NOTIFY
    (migration 0026) wakes it, and readers poll the commit counters this often when no
    message of the commit channel wakes them."""
    engine: str = "tantivy"
    """The `engine_queue.engine` value this follower drains."""

    def __post_init__(self) -> None:
        checks = (
            ("writer_heap_mb", 15 <= self.writer_heap_mb <= 16_000, "between 15 and 16000"),
            ("writer_threads", 1 <= self.writer_threads <= 8
             and self.writer_heap_mb >= 15 * self.writer_threads,
             "between 1 and 8, with at least 15 MB of writer heap each"),
            ("commit_interval_ms", 1 <= self.commit_interval_ms <= 60_000,
             "between 1 and 60000"),
            ("commit_max_docs", 1 <= self.commit_max_docs <= 1_000_000,
             "between 1 and 1000000"),
            ("commit_bulk_docs", 1 <= self.commit_bulk_docs <= 1_000_000,
             "between 1 and 1000000"),
            ("commit_bulk_interval_ms", 1 <= self.commit_bulk_interval_ms <= 60_000,
             "between 1 and 60000"),
            ("batch", 1 <= self.batch <= 100_000, "between 1 and 100000"),
            ("poll_interval_ms", 1 <= self.poll_interval_ms <= 10_000, "between 1 and 10000"),
            ("index_dir", bool(self.index_dir.strip()), "must not be empty"),
            ("engine", bool(self.engine.strip()), "must not be empty"),
        )
        for field, ok, message in checks:
            if not ok:
                raise ValidationFailed(f"tantivy.{field}", message)
        bad = [cur for cur in self.currencies if cur not in ISO_4217]
        if bad or len(set(self.currencies)) != len(self.currencies):
            got = bad or "duplicates"
            raise ValidationFailed("tantivy.currencies",
                                   f"need distinct ISO 4217 codes like EUR, got {got}")

    @property
    def commit_interval(self) -> float:
        return self.commit_interval_ms / 1000

    @property
    def commit_bulk_interval(self) -> float:
        return self.commit_bulk_interval_ms / 1000

    @property
    def poll_interval(self) -> float:
        return self.poll_interval_ms / 1000


def commit_counter_key(stream_prefix: str, doc_type: DocType) -> str:
    """Redis key the writer INCRs after every commit of `doc_type` (readers poll it)."""
    return f"{stream_prefix}:tantivy:{doc_type}:commits"


def commit_channel(stream_prefix: str) -> str:
    """Redis pub/sub channel the writer announces commits on (payload: the doc type)."""
    return f"{stream_prefix}:tantivy:commits"
