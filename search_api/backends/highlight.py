"""The <mark> helpers every backend's highlights and suggestions use: marking ranges,
prefixes and PostgreSQL headline fragments in HTML-escaped text (pure)."""

from __future__ import annotations

import html
from collections.abc import Sequence

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
