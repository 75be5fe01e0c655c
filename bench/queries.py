"""Named SQL of the benchmarks, loaded once from `bench/sql/*.sql`."""

from pathlib import Path

from core_write.queries import load_queries

QUERIES = load_queries(Path(__file__).parent / "sql")
