"""The embedded Tantivy engine: schemas and documents, generation directories, the single
writer that follows `engine_queue`, and readers for other processes."""

from indexer.tantivy.config import DocType, TantivyConfig
from indexer.tantivy.errors import RebuildRunning, TantivyError, WriterLocked
from indexer.tantivy.follower import TantivyFollower
from indexer.tantivy.reader import TantivyReader
from indexer.tantivy.stats import CommitReport, TantivyStats

__all__ = [
    "CommitReport", "DocType", "RebuildRunning", "TantivyConfig", "TantivyError",
    "TantivyFollower", "TantivyReader", "TantivyStats", "WriterLocked",
]
