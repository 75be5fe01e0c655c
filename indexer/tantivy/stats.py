"""What the Tantivy follower counts, for the metrics the entry point exports (pure data)."""

from __future__ import annotations

from dataclasses import dataclass

from indexer.tantivy.config import DocType


@dataclass
class TantivyStats:
    """Counters for Prometheus (monotonic unless named `last_`)."""

    docs_applied: int = 0      # documents (re)added
    deletes: int = 0           # documents removed because their index row is gone
    commits: int = 0
    queue_rows_done: int = 0   # queue rows deleted after their commit
    failed_docs: int = 0       # rows that could not be mapped to a document (logged, skipped)
    errors: int = 0            # failed drain attempts (retried with backoff)
    rebuilds: int = 0
    last_lag_seconds: float = 0.0     # commit time minus the oldest event_time it covered
    last_commit_seconds: float = 0.0  # duration of the last tantivy commit(s)


@dataclass(frozen=True)
class CommitReport:
    doc_types: frozenset[DocType]
    added: int
    deleted: int
    queue_rows: int
    lag_seconds: float
    commit_seconds: float
