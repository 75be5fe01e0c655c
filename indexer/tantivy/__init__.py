"""The embedded Tantivy engine: schemas and documents, generation directories, the single
writer that follows `engine_queue`, and readers for other processes."""

from indexer.follower import RebuildRunning
from indexer.model import DocType
from indexer.tantivy.config import TantivyConfig
from indexer.tantivy.errors import TantivyError, WriterLocked
from indexer.tantivy.follower import TantivyFollower
from indexer.tantivy.reader import TantivyReader

__all__ = [
    "DocType", "RebuildRunning", "TantivyConfig", "TantivyError", "TantivyFollower",
    "TantivyReader", "WriterLocked",
]
