"""PostgreSQL's typo expansion (`rustok_text_query`, migrations/0019_search_words.sql) against
a Python reference of the rule in `indexer.model.text`: every word of the tenant's list within
the query word's typo budget is found, with the right number of typos, and nothing beyond it
(the candidates come from index lookups by pieces of the word, so a miss would be silent)."""

from __future__ import annotations

import random
import uuid

import asyncpg

from indexer.model.text import FIRST_LETTER_TYPO_COST, typo_budget


def damerau(a: str, b: str) -> int:
    """The unrestricted Damerau-Levenshtein distance (Lowrance-Wagner): insertions,
    deletions, substitutions and swaps of adjacent letters, a swapped pair edited again."""
    big = len(a) + len(b)
    last: dict[str, int] = {}
    d = [[big] * (len(b) + 2) for _ in range(len(a) + 2)]
    for i in range(len(a) + 1):
        d[i + 1][1], d[i + 1][0] = i, big
    for j in range(len(b) + 1):
        d[1][j + 1], d[0][j + 1] = j, big
    for i in range(1, len(a) + 1):
        match = 0
        for j in range(1, len(b) + 1):
            k, swap_j = last.get(b[j - 1], 0), match
            cost = 0 if a[i - 1] == b[j - 1] else 1
            if cost == 0:
                match = j
            d[i + 1][j + 1] = min(d[i][j] + cost, d[i + 1][j] + 1, d[i][j + 1] + 1,
                                  d[k][swap_j] + (i - k - 1) + 1 + (j - swap_j - 1))
        last[a[i - 1]] = i
    return d[len(a) + 1][len(b) + 1]


def osa(a: str, b: str) -> int:
    """Optimal string alignment: like `damerau`, but a swapped pair is not edited again."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def typos(distance: int, word: str, other: str) -> int:
    return distance + (FIRST_LETTER_TYPO_COST - 1) * (word[0] != other[0])


def _mutate(word: str, rng: random.Random, edits: int) -> str:
    for _ in range(edits):
        op, i, letter = rng.randrange(4), rng.randrange(len(word)), rng.choice("abcdefgh")
        if op == 0:
            word = word[:i] + letter + word[i + 1:]
        elif op == 1 and len(word) > 3:
            word = word[:i] + word[i + 1:]
        elif op == 2:
            word = word[:i] + letter + word[i:]
        elif i < len(word) - 1:
            word = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word


def _terms(tsquery: str | None) -> set[str]:
    text = (tsquery or "").replace("(", " ").replace(")", " ")
    return {t.strip().strip("'") for t in text.split("|")} - {""}


async def test_the_expansion_finds_every_word_within_the_budget(pool: asyncpg.Pool) -> None:
    rng = random.Random(13)
    tenant, other = uuid.uuid4(), uuid.uuid4()
    queries = ["".join(rng.choice("abcdefgh") for _ in range(rng.randint(4, 16)))
               for _ in range(150)]
    words = set(queries)
    for word in queries:
        words.update(_mutate(word, rng, edits) for edits in (1, 1, 2, 2, 2, 3, 3))
    words = {w for w in words if 3 <= len(w) <= 48}
    await pool.executemany("INSERT INTO search_words VALUES ($1, 'product', $2)",
                           [(tenant, w) for w in sorted(words)])
    await pool.execute("INSERT INTO search_words VALUES ($1, 'product', 'zzzzzz')", other)
    for word in queries:
        budget = typo_budget(word)
        row = await pool.fetchrow(
            "SELECT match::text AS match, one::text[] AS one FROM rustok_text_query("
            "$1, 'product', 'simple', ARRAY[$2], ARRAY[$3::int], false, $4)",
            tenant, word, budget, FIRST_LETTER_TYPO_COST)
        found = _terms(row["match"]) - {word}
        # every word within the budget by the strict rule (a swapped pair not edited again)
        wanted = {w for w in words - {word} if typos(osa(word, w), word, w) <= budget}
        assert wanted <= found, word
        # and nothing beyond what the unrestricted distance allows
        assert all(typos(damerau(word, w), word, w) <= budget for w in found), word
        one = _terms(row["one"][0]) if row["one"] else set()
        assert one == {w for w in found if typos(damerau(word, w), word, w) == 1}, word
    # another tenant's words never expand this tenant's query
    row = await pool.fetchrow("SELECT match::text FROM rustok_text_query($1, 'product', "
                              "'simple', ARRAY['zzzzzy'], ARRAY[1], false, 2)", tenant)
    assert row is not None and row["match"] == "'zzzzzy'"
