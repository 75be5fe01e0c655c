"""The <mark> helpers every backend's highlights and suggestions use: marking ranges,
prefixes and PostgreSQL headline fragments in HTML-escaped text, and which words of a text
match a query by the shared rules (pure)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence

from indexer.model.engines import match_query
from indexer.model.text import stem_language, stem_words, typo_budget, typo_cost

MARK, UNMARK = "<mark>", "</mark>"


def mark_ranges(text: str, ranges: Sequence[tuple[int, int]]) -> str:
    """`text` HTML-escaped with each [start, end) range wrapped in <mark></mark>."""
    out, pos = [], 0
    for start, end in sorted(ranges):
        if start < pos:
            continue
        out += [html.escape(text[pos:start]), MARK, html.escape(text[start:end]), UNMARK]
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def mark_prefixes(title: str, words: Sequence[str]) -> str:
    """`title` with every word that starts with one of `words` (case-insensitive) marked on
    the matching prefix (suggestions)."""
    ranges: list[tuple[int, int]] = []
    lowered = title.lower()  # same length as title (casefold may not be)
    start = None
    for index, char in enumerate([*lowered, " "]):
        if char.isalnum() and start is None:
            start = index
        elif not char.isalnum() and start is not None:
            token = lowered[start:index]
            best = max((len(w) for w in words if w and token.startswith(w)), default=0)
            if best:
                ranges.append((start, start + best))
            start = None
    return mark_ranges(title, ranges)


def marked_headline(fragment: str, start: str = "\u27e6", stop: str = "\u27e7") -> str:
    """A PostgreSQL `ts_headline` fragment delimited by `start`/`stop`, HTML-escaped, with the
    delimiters turned into <mark></mark>."""
    return html.escape(fragment).replace(start, MARK).replace(stop, UNMARK)


_TOKEN = re.compile(r"[^\W_]+")
"""A word, as `match_words` splits them (with its position)."""


class QueryWords:
    """The words of a query and how a document word matches them (`indexer.model.text`'s
    rules: exact, same stem, the last word as a prefix, typos by length with the first letter
    costing two): what the engines match with automata, decided here word by word for the
    few documents whose matches are marked."""

    def __init__(self, text: str, language: str | None) -> None:
        self.words, prefixed = match_query(text)
        self.prefix = self.words[-1] if prefixed else None
        self.language = language if stem_language(language) else None
        self.stems = set(stem_words(self.words, self.language)) if self.language else set()
        self._seen: dict[str, int] = {}

    def match(self, token: str) -> int:
        """How many letters of a casefolded document word to mark: all of it for an exact,
        stem or typo match, the prefix's for a prefix match, 0 when it does not match."""
        seen = self._seen.get(token)
        if seen is None:
            seen = self._seen[token] = self._match(token)
        return seen

    def _match(self, token: str) -> int:
        if token in self.words:
            return len(token)
        if self.language and stem_words([token], self.language)[0] in self.stems:
            return len(token)
        if any(typo_cost(word, token, typo_budget(word)) is not None for word in self.words):
            return len(token)
        if self.prefix and token.startswith(self.prefix):
            return len(self.prefix)
        return 0

    def matches(self, text: str) -> Iterator[tuple[int, int, str]]:
        """(start, end of the marked part, the word as Tantivy's tokenizer indexes it) of
        every matching word of `text`."""
        for found in _TOKEN.finditer(text):
            marked = self.match(found.group().casefold())
            if marked:
                yield found.start(), found.start() + min(marked, len(found.group())), \
                    found.group().lower()

    def mark(self, text: str) -> str:
        """`text` with every matching word (or its matching prefix) marked."""
        return mark_ranges(text, [(start, end) for start, end, _ in self.matches(text)])
