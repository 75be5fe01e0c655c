"""Text and field rules every engine and query compiler shares: the words of user text, when
a word may match with a typo, the title sort key, and the names of the per-currency price
fields (pure)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence

import snowballstemmer

from core_write.errors import ValidationFailed

TYPO_ONE_MIN = 5
"""Query words this long may match a document word with one typo (every backend)."""
TYPO_TWO_MIN = 9
"""Query words this long may match with two typos."""
TYPO_MAX_LETTERS = 24
"""Longer query words match without typos (bounds the cost of a typo expansion)."""
FIRST_LETTER_TYPO_COST = 2
"""An edit on a word's first letter counts as two typos (Meilisearch's rule): a 5-8 letter
word must keep its first letter to match with a typo."""
PREFIX_MIN_LETTERS = 1
"""The last word of a query (not followed by a space) also matches as a prefix from this
many letters (as in Meilisearch, Typesense and Algolia)."""
FUZZY_MIN_LETTERS = TYPO_ONE_MIN
"""Deprecated name of `TYPO_ONE_MIN`."""


def typo_budget(word: str) -> int:
    """How many typos a query word may carry: 0, 1 (from `TYPO_ONE_MIN` letters) or 2 (from
    `TYPO_TWO_MIN`), 0 beyond `TYPO_MAX_LETTERS`."""
    n = len(word)
    if n < TYPO_ONE_MIN or n > TYPO_MAX_LETTERS:
        return 0
    return 2 if n >= TYPO_TWO_MIN else 1


def prefix_word(text: str | None) -> str | None:
    """The word of `text` that also matches as a prefix: the last one, unless the text ends
    with whitespace (the shopper finished it) or it is shorter than `PREFIX_MIN_LETTERS`."""
    if not text or text[-1].isspace():
        return None
    words = query_words(text)
    if not words or not text.rstrip().casefold().endswith(words[-1]):
        return None
    return words[-1] if len(words[-1]) >= PREFIX_MIN_LETTERS else None


_WORD = re.compile(r"\w+", re.UNICODE)


def query_words(text: str | None) -> list[str]:
    """The lowercase words of user text (what the fuzzy branches match one by one)."""
    return [w.casefold() for w in _WORD.findall(text or "")]


SNOWBALL: frozenset[str] = frozenset(snowballstemmer.algorithms())
"""Snowball languages the `snowballstemmer` package knows: every PostgreSQL text search
configuration with a Snowball stemmer has the same name (english, german, french, ...)."""


def stem_language(language: str | None) -> str | None:
    """The Snowball language of a tenant's text search configuration (its `settings.language`,
    a PostgreSQL config name), None for `simple` and any config without a Snowball stemmer
    (words then match as written)."""
    return language if language in SNOWBALL and language != "porter" else None


class _Stems(dict[str, str]):
    """Word → stem in one language, filled as words come (a vocabulary is small)."""

    def __init__(self, language: str) -> None:
        super().__init__()
        self.stemmer = snowballstemmer.stemmer(language)

    def __missing__(self, word: str) -> str:
        if len(self) > 200_000:  # bounded whatever the text
            self.clear()
        stem = self[word] = str(self.stemmer.stemWord(word))
        return stem


@functools.lru_cache(maxsize=64)
def _stems(language: str) -> _Stems:
    return _Stems(language)


def stemmer(language: str | None) -> Callable[[str], str] | None:
    """The stem of one casefolded word in a tenant's language (`stem_language`), None when it
    has no stemmer (for loops over many words: `stem_words`)."""
    snowball = stem_language(language)
    return None if snowball is None else _stems(snowball).__getitem__


def stem_words(words: Iterable[str], language: str | None) -> list[str]:
    """The Snowball stems of casefolded `words` in a tenant's language (`stem_language`); the
    words themselves when it has no stemmer. The same algorithms as PostgreSQL's
    configurations, so "boots" and "boot" meet on every backend."""
    stem = stemmer(language)
    return list(words) if stem is None else list(map(stem, words))


def typo_cost(query_word: str, doc_word: str, limit: int) -> int | None:
    """The typos between a query word and a document word (Damerau-Levenshtein, optimal string
    alignment: a transposition is one edit; any edit of the first letter costs
    `FIRST_LETTER_TYPO_COST`), or None above `limit`. Pure reference of the typo rule (the
    engines run it as automata; highlights and tests use this)."""
    if query_word == doc_word:
        return 0
    if limit <= 0 or abs(len(query_word) - len(doc_word)) > limit:
        return None
    # the first letter doubled: every edit touching it then takes two edits, as in the
    # Tantivy fields (`indexer.tantivy.schema`)
    a, b = query_word[:1] + query_word, doc_word[:1] + doc_word
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        if min(row) > limit:
            return None
        prev2, prev = prev, row
    return prev[-1] if prev[-1] <= limit else None


TITLE_SORT_SQL = 'lower(btrim(title)) COLLATE "C"'
"""The PostgreSQL twin of `title_sort_key` (PostgreSQL is the reference backend): `btrim`
strips spaces only, `lower` maps each character to its simple lowercase (the database's
libc locale, e.g. C.UTF-8: ß stays ß, İ becomes i, Σ always σ) and `COLLATE "C"` compares
code points, as Python compares strings."""
_SIMPLE_LOWER = str.maketrans({"\u0130": "i", "\u03a3": "\u03c3"})
"""The two characters whose Python `lower()` differs from the simple per-character mapping:
İ (to i + combining dot) and Σ (to final ς at the end of a word)."""


def identifier_key(q: str | None) -> str | None:
    """What a whole query matches identifiers by (product handles, variant SKUs and barcodes,
    content slugs: exactly, no stemming, typos or prefixes): the trimmed text lowercased as
    PostgreSQL's `lower()` lowercases the stored identifiers (`indexer/sql/documents.sql`);
    None for blank text."""
    key = (q or "").strip().translate(_SIMPLE_LOWER).lower()
    return key or None


OPTION_SEPARATOR = ":"
"""Between an option's name and its value in an option facet or filter value: "Colour:red"
(the name is everything before the first separator)."""


def split_option(value: str) -> tuple[str, str]:
    """("Colour", "red") of "Colour:red"; ("", value) when there is no separator."""
    name, sep, rest = value.partition(OPTION_SEPARATOR)
    return (name, rest) if sep else ("", value)


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
