"""The embedded Tantivy engine: schemas (`schema`), generation directories and the live
writers (`store`), the single writer that follows `engine_queue` on the follower skeleton
(`follower`; run by the daemon and read by verify through `engine`; fed straight by a full
reindex through `loader`), readers for other processes (`reader`, with the tenant scoping of
every query in `query`), settings and Redis names (`config`) and errors (`errors`). Its
documents are built in `indexer.model.engines`."""

from indexer.follower import RebuildRunning
from indexer.tantivy.config import TantivyConfig
from indexer.tantivy.errors import TantivyError, WriterLocked
from indexer.tantivy.follower import TantivyFollower
from indexer.tantivy.reader import TantivyReader

__all__ = [
    "RebuildRunning", "TantivyConfig", "TantivyError", "TantivyFollower", "TantivyReader",
    "WriterLocked",
]
