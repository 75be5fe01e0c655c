"""The title sort key: the Python rule (`title_sort_key`, Tantivy and Meilisearch) and its
PostgreSQL twin (`TITLE_SORT_SQL`, the reference backend) agree, key and order."""

from __future__ import annotations

import asyncpg

from indexer.model.text import TITLE_SORT_SQL, title_sort_key

TRICKY = [
    "  Red Shoe ", "\tTabbed\t", "\nnewline ", "Straße", "STRASSE", "İstanbul", "ıI",
    "ΟΔΟΣ ΣΑΣ", "ς", "Ǆemal", "ÀÉÎ", "ﬁsh", "Ⅻ", "ǅ", "", " ", "a b", "Zebra", "apple", "Ä",
]


async def test_python_and_postgres_title_sort_keys_agree(pool: asyncpg.Pool) -> None:
    rows = await pool.fetch(
        f"SELECT i, {TITLE_SORT_SQL} AS key FROM unnest($1::text[]) WITH ORDINALITY"
        f" AS t(title, i) ORDER BY {TITLE_SORT_SQL}, i", TRICKY)
    assert [r["key"] for r in rows] == sorted(title_sort_key(t) for t in TRICKY)
    by_index = {r["i"]: r["key"] for r in rows}
    assert [by_index[i + 1] for i in range(len(TRICKY))] == [title_sort_key(t) for t in TRICKY]


def test_title_sort_key_rules() -> None:
    assert title_sort_key(None) is None
    assert title_sort_key("  Red Shoe ") == "red shoe"  # spaces only are stripped
    assert title_sort_key("\tTab ") == "\ttab"
    assert title_sort_key("Straße") == "straße" and title_sort_key("İ") == "i"
    assert title_sort_key("ΟΔΟΣ") == "οδοσ"  # no final sigma: PostgreSQL maps each letter
