"""Errors of the embedded Tantivy engine; tantivy's own exceptions (plain ValueErrors) are
translated into these where the index directory is opened (no I/O here)."""

from __future__ import annotations

from core_write.errors import RustokError


class TantivyError(RustokError):
    """The Tantivy index failed."""


class WriterLocked(TantivyError):
    """Another writer holds this index directory (one writer per directory)."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"another IndexWriter holds the lock on {path} (in this process or another one); "
            "only one tantivy follower may run per index directory", path=path,
        )
        self.path = path

