"""Named SQL of the indexer package, loaded once from `indexer/sql/*.sql`."""

from pathlib import Path

from core_write.queries import load_queries

QUERIES = load_queries(Path(__file__).parent / "sql")
