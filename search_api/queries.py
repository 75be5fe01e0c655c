"""The named SQL of the search API, loaded once from `search_api/sql/*.sql` (pure)."""

from __future__ import annotations

from pathlib import Path

from core_write.queries import load_queries

QUERIES = load_queries(Path(__file__).parent / "sql")
