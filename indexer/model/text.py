"""Text and field rules every engine and query compiler shares: the words of user text, when
a word may match with a typo, the title sort key, and the names of the per-currency price
fields (pure)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from core_write.errors import ValidationFailed

FUZZY_MIN_LETTERS = 5
"""Query words this long may match a title word with one typo (every backend)."""
_WORD = re.compile(r"\w+", re.UNICODE)


def query_words(text: str | None) -> list[str]:
    """The lowercase words of user text (what the fuzzy branches match one by one)."""
    return [w.casefold() for w in _WORD.findall(text or "")]


TITLE_SORT_SQL = 'lower(btrim(title)) COLLATE "C"'
"""The PostgreSQL twin of `title_sort_key` (PostgreSQL is the reference backend): `btrim`
strips spaces only, `lower` maps each character to its simple lowercase (the database's
libc locale, e.g. C.UTF-8: ß stays ß, İ becomes i, Σ always σ) and `COLLATE "C"` compares
code points, as Python compares strings."""
_SIMPLE_LOWER = str.maketrans({"\u0130": "i", "\u03a3": "\u03c3"})
"""The two characters whose Python `lower()` differs from the simple per-character mapping:
İ (to i + combining dot) and Σ (to final ς at the end of a word)."""


def title_sort_key(title: str | None) -> str | None:
    """The key titles sort by in every engine: what `TITLE_SORT_SQL` computes."""
    return None if title is None else title.strip(" ").translate(_SIMPLE_LOWER).lower()


@functools.lru_cache(maxsize=1024)
def price_fields(currency: str) -> tuple[str, str]:
    """The engine fields of a currency's price range: (`price_min_eur`, `price_max_eur`)."""
    cur = currency.lower()
    return f"price_min_{cur}", f"price_max_{cur}"


def price_field_pair(currency: str | None, currencies: Sequence[str],
                     where: str) -> tuple[str, str]:
    """`price_fields(currency)`, or `ValidationFailed(where)` when the engine indexes no price
    fields for it."""
    if currency is None or currency not in currencies:
        raise ValidationFailed(where, f"{currency!r} is not indexed by this engine "
                                      f"(indexed: {', '.join(currencies)})")
    return price_fields(currency)
