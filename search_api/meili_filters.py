"""The filter strings of the Meilisearch query compiler, each clause named so a facet can drop
its own: statuses, merchandising bounds and tiers, the product and content filters and the
identifier lookup. User values only ever appear inside double-quoted literals (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Sequence

from core_write.errors import ValidationFailed
from indexer.model import DocType
from indexer.model.engines import micros
from indexer.model.text import identifier_key, price_field_pair
from search_api.filters import ContentFilter, FilterTest, ProductFilter, option_groups
from search_api.model import SearchQuery
from search_api.scope import SearchScope

Clauses = list[tuple[str, str]]


def quote(value: object) -> str:
    """A filter string literal: the value in double quotes, `\\` and `"` escaped."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def any_of(attribute: str, values: Sequence[object]) -> str:
    return f"{attribute} IN [{', '.join(quote(v) for v in values)}]"


def all_of(parts: Sequence[str]) -> str | None:
    """The conjunction of filter expressions, each parenthesized (None when empty)."""
    if not parts:
        return None
    return " AND ".join(f"({part})" for part in parts)


def clauses(query: SearchQuery, scope: SearchScope, currencies: Sequence[str]) -> Clauses:
    """Named filter expressions of the query (the tenant is the index, not a clause)."""
    out: Clauses = []
    flt = query.filter
    statuses = scope.statuses(query)
    if statuses is not None:
        out.append(("status", any_of("status", statuses)))
    if scope.only_ids is not None:
        out.append(("ids", any_of("id", sorted(scope.only_ids))))
    if scope.exclude_ids:
        out.append(("not_ids", f"NOT ({any_of('id', sorted(scope.exclude_ids))})"))
    if scope.tier:
        out.append(("tier", _tier(scope, currencies)))
    if flt is not None:
        out += _filter_clauses(flt, currencies)
    return out


def _filter_clauses(flt: ProductFilter | ContentFilter, currencies: Sequence[str]) -> Clauses:
    """Named filter expressions of one filter (`status` aside: the scope's statuses)."""
    out: Clauses = []
    if isinstance(flt, ProductFilter):
        if flt.categories:
            out.append(("categories", any_of("category_ids", flt.categories)))
        if flt.tags:
            out.append(("tags", any_of("tags", flt.tags)))
        if flt.price is not None:
            low, high = price_field_pair(flt.price.currency, currencies,
                                         "filter.price.currency")
            parts = [f"{low} EXISTS"]
            if flt.price.min is not None:  # overlap: the product's max reaches the range
                parts.append(f"{high} >= {int(flt.price.min)}")
            if flt.price.max is not None:
                parts.append(f"{low} <= {int(flt.price.max)}")
            out.append(("price", " AND ".join(parts)))
        if flt.has_stock is not None:
            out.append(("has_stock", f"has_stock = {'true' if flt.has_stock else 'false'}"))
        if flt.options:
            out.append(("options", " AND ".join(
                f"({any_of('option_values', group)})" for group in option_groups(flt.options))))
    elif isinstance(flt, ContentFilter):
        if flt.kind:
            out.append(("kind", any_of("kind", flt.kind)))
        if flt.categories:
            out.append(("categories", any_of("category_id", flt.categories)))
        if flt.tags:
            out.append(("tags", any_of("tags", flt.tags)))
        if flt.author:
            out.append(("author", any_of("author_id", flt.author)))
        if flt.published is not None:
            parts = ["published_at_us EXISTS"]
            if flt.published.gte is not None:
                parts.append(f"published_at_us >= {micros(flt.published.gte)}")
            if flt.published.lte is not None:
                parts.append(f"published_at_us <= {micros(flt.published.lte)}")
            out.append(("published", " AND ".join(parts)))
    return out


def _tier(scope: SearchScope, currencies: Sequence[str]) -> str:
    """The scope's merchandising tier (`SearchScope.tier`) as one expression. `NOT` is the
    complement in Meilisearch (a document without the field does not match the filter)."""
    def matches(flt: ProductFilter | ContentFilter) -> str:
        try:
            parts = _filter_clauses(flt, currencies)
        except ValidationFailed:  # a price in a currency this engine has no fields for
            return "NOT id EXISTS"
        if flt.status:
            parts.append(("status", any_of("status", flt.status)))
        return all_of([expr for _, expr in parts]) or "id EXISTS"

    def test(t: FilterTest) -> str:
        found = " OR ".join(f"({matches(flt)})" for flt in t.filters) or "NOT id EXISTS"
        return f"NOT ({found})" if t.negate else f"({found})"

    return " AND ".join("(" + " OR ".join(test(t) for t in group) + ")"
                        for group in scope.tier)


IDENTIFIER_ATTRIBUTE: dict[DocType, str] = {"product": "identifiers", "content": "slug"}
"""The filterable attribute holding a document's identifiers (product: lowercased handle,
SKUs, barcodes; content: its slug)."""


def identifier_match(query: SearchQuery) -> str | None:
    """The filter of the documents the whole query identifies (exactly, case-insensitively:
    `text.identifier_key`); None without text. Meilisearch cannot OR a filter with the text
    match, so `plan` asks for these documents in a query of their own and `result` puts them
    first (relevance order only)."""
    key = identifier_key(query.q)
    if key is None:
        return None
    return f"{IDENTIFIER_ATTRIBUTE[query.doc_type]} = {quote(key)}"


def filter_of(named: Clauses, skip: str | None = None, extra: str | None = None) -> str | None:
    """The filter string of the named clauses, without the one named `skip` (a facet's own
    filter), with `extra` added (None when nothing is left)."""
    parts = [expr for name, expr in named if name != skip]
    if extra is not None:
        parts.append(extra)
    return all_of(parts)
