"""The embedded Tantivy engine: schemas, generation directories, the single writer that
follows `engine_queue`, and readers for other processes (its documents are built in
`indexer.model.engines`)."""

from indexer.follower import RebuildRunning
from indexer.tantivy.config import TantivyConfig
from indexer.tantivy.errors import TantivyError, WriterLocked
from indexer.tantivy.follower import TantivyFollower
from indexer.tantivy.reader import TantivyReader

__all__ = [
    "RebuildRunning", "TantivyConfig", "TantivyError", "TantivyFollower", "TantivyReader",
    "WriterLocked",
]
