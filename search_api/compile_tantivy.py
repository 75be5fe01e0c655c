"""Compiles a `SearchQuery` + `SearchScope` into Tantivy queries and aggregation requests
(pure: builds query objects against an index's schema, searches nothing).

Mirrors `compile_pg`: the same named filter clauses (so facets can drop their own filter —
disjunctive faceting), user text by the shared matching and ranking rules (prefixes, typos,
stems on every searchable field, `indexer.tantivy.query.words_query`), and every query
confined by `query.tenant_scoped`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import tantivy

from core_write.errors import ValidationFailed
from indexer.model import SPECS, DocType
from indexer.model.engines import match_query
from indexer.model.relevance import DEFAULT_TEXT_RULES, TextRules
from indexer.model.text import identifier_key, price_field_pair, price_fields
from indexer.tantivy.query import WordScores, tenant_scoped, text_query, words_query
from search_api.facets import OWN_FILTER
from search_api.filters import ContentFilter, FilterTest, ProductFilter, option_groups
from search_api.model import SearchQuery
from search_api.scope import SearchScope

IDENTIFIER_BOOST = 1e6
"""The score of a document the whole query identifies: above any text score (first tier;
`WordScores.ceiling` stays below it up to dozens of words)."""
IDENTIFIER_FIELD: dict[DocType, str] = {"product": "identifiers", "content": "slug"}
"""The raw field holding a document's identifiers (product: lowercased handle, SKUs,
barcodes; content: its slug, lowercase by the slug rule)."""
TERMS_SIZE = 65000
"""Terms aggregation size: large enough that facet counts are exact, not top-k."""
STATS_LOW, STATS_HIGH = "price_stats_low", "price_stats_high"
"""Names of the price-stats aggregations (facet names never take them)."""

_PLAIN = re.compile(r"[\w\s]+")
_OPERATORS = frozenset({"AND", "OR", "NOT", "IN"})
DATE_SORTS = frozenset({"created_at", "published_at"})
Clauses = list[tuple[str, tantivy.Query]]


def user_text(index: tantivy.Index, doc_type: DocType, text: str,
              language: str | None = None, scored: bool = True,
              rules: TextRules = DEFAULT_TEXT_RULES) -> tantivy.Query:
    """Every word of `text` matched by the rules of `indexer.model.text` (exact, same stem in
    the tenant's `language`, the last word as a prefix, typos by length) on every searchable
    field, ranked by typos, field tier and exactness, then BM25 (`words_query`); unscored,
    the same documents with less work (counts, facets, explicit sorts). Text in query syntax
    (OR, -word, "phrases", field:) also matches what the parser makes of it. The tenant's
    `rules` (synonyms, stop words, typo settings) shape the words (`words_query`)."""
    words, prefix = match_query(text)
    if not words:
        return text_query(index, doc_type, text)
    matched = words_query(index.schema, words, language=language, scored=scored,
                          prefix=prefix, rules=rules)
    if _plain(text):
        return matched
    parsed = tantivy.Query.boost_query(text_query(index, doc_type, text),
                                       WordScores(len(words)).bm25_scale)
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, parsed),
                                        (tantivy.Occur.Should, matched)])


def _plain(text: str) -> bool:
    """Words and spaces only, none of them a query-parser operator."""
    return _PLAIN.fullmatch(text) is not None and not _OPERATORS & set(text.split())


def clauses(index: tantivy.Index, query: SearchQuery, scope: SearchScope,
            currencies: Sequence[str], scored: bool = True) -> Clauses:
    """Named MUST clauses of the query (tenant excluded: `scoped` adds it); unscored, the
    same hits for counting (`user_text`)."""
    schema = index.schema
    out: Clauses = []
    flt = query.filter
    statuses = scope.statuses(query)
    if statuses is not None:
        out.append(("status", any_of(schema, "status", statuses)))
    if scope.only_ids is not None:
        out.append(("ids", any_of(schema, "id", sorted(scope.only_ids))))
    if scope.exclude_ids:
        out.append(("not_ids", tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, tantivy.Query.all_query()),
             (tantivy.Occur.MustNot, any_of(schema, "id", sorted(scope.exclude_ids)))])))
    if scope.tier:
        out.append(("tier", _tier(schema, scope, currencies)))
    if query.q:
        text = user_text(index, query.doc_type, query.q, scope.language, scored=scored,
                         rules=scope.text_rules)
        ident = identifier_match(schema, query)
        if ident is not None:
            text = tantivy.Query.boolean_query([(tantivy.Occur.Should, text),
                                                (tantivy.Occur.Should, ident)])
        out.append(("text", text))
    if isinstance(flt, ProductFilter):
        out += _product_filters(schema, flt, currencies)
    elif isinstance(flt, ContentFilter):
        out += _content_filters(schema, flt)
    return out


def _tier(schema: tantivy.Schema, scope: SearchScope,
          currencies: Sequence[str]) -> tantivy.Query:
    """The scope's merchandising tier (`SearchScope.tier`) as one query."""
    def matches(flt: ProductFilter | ContentFilter) -> tantivy.Query:
        try:
            parts = (_product_filters(schema, flt, currencies) if isinstance(flt, ProductFilter)
                     else _content_filters(schema, flt))
        except ValidationFailed:  # a price in a currency this engine has no fields for
            return _none()
        if flt.status:
            parts.append(("status", any_of(schema, "status", flt.status)))
        return _all([q for _, q in parts]) if parts else tantivy.Query.all_query()

    def test(t: FilterTest) -> tantivy.Query:
        found = _any([matches(flt) for flt in t.filters]) if t.filters else _none()
        if not t.negate:
            return found
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, tantivy.Query.all_query()),
                                            (tantivy.Occur.MustNot, found)])

    return _all([_any([test(t) for t in group]) for group in scope.tier])


def _any(parts: Sequence[tantivy.Query]) -> tantivy.Query:
    if len(parts) == 1:
        return parts[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, part) for part in parts])


def _none() -> tantivy.Query:
    return tantivy.Query.boolean_query([(tantivy.Occur.MustNot, tantivy.Query.all_query())])


def identifier_match(schema: tantivy.Schema, query: SearchQuery) -> tantivy.Query | None:
    """Documents the whole query identifies (exactly, case-insensitively:
    `text.identifier_key`), scored `IDENTIFIER_BOOST`; OR'ed with the text match. None
    without text."""
    key = identifier_key(query.q)
    if key is None:
        return None
    term = tantivy.Query.term_query(schema, IDENTIFIER_FIELD[query.doc_type], key)
    return tantivy.Query.const_score_query(term, IDENTIFIER_BOOST)


def any_of(schema: tantivy.Schema, field: str, values: Sequence[Any]) -> tantivy.Query:
    """Documents whose `field` holds one of `values`. A term per value rather than
    `term_set_query`, which builds an FST and allocates its ~20k-cell registry on every call:
    that alone was a sixth of a search's time."""
    terms = [tantivy.Query.term_query(schema, field, str(v)) for v in values]
    if len(terms) == 1:
        return terms[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, term) for term in terms])


def _product_filters(schema: tantivy.Schema, flt: ProductFilter,
                     currencies: Sequence[str]) -> Clauses:
    out: Clauses = []
    if flt.categories:
        out.append(("categories", any_of(schema, "category_ids", flt.categories)))
    if flt.tags:
        out.append(("tags", any_of(schema, "tags", flt.tags)))
    if flt.price is not None:
        low, high = price_field_pair(flt.price.currency, currencies, "filter.price.currency")
        parts = [tantivy.Query.exists_query(low)]
        if flt.price.min is not None:  # overlap: the product's max reaches the range
            parts.append(tantivy.Query.range_query(schema, high, tantivy.FieldType.Integer,
                                                   lower_bound=flt.price.min))
        if flt.price.max is not None:
            parts.append(tantivy.Query.range_query(schema, low, tantivy.FieldType.Integer,
                                                   upper_bound=flt.price.max))
        out.append(("price", _all(parts)))
    if flt.has_stock is not None:
        out.append(("has_stock", tantivy.Query.term_query(schema, "has_stock", flt.has_stock)))
    if flt.options:
        out.append(("options", _all([any_of(schema, "option_values", group)
                                     for group in option_groups(flt.options)])))
    return out


def _content_filters(schema: tantivy.Schema, flt: ContentFilter) -> Clauses:
    out: Clauses = []
    if flt.kind:
        out.append(("kind", any_of(schema, "kind", flt.kind)))
    if flt.categories:
        out.append(("categories", any_of(schema, "category_id", flt.categories)))
    if flt.tags:
        out.append(("tags", any_of(schema, "tags", flt.tags)))
    if flt.author:
        out.append(("author", any_of(schema, "author_id", flt.author)))
    if flt.published is not None:
        parts = [tantivy.Query.exists_query("published_at")]
        if flt.published.gte is not None or flt.published.lte is not None:
            parts.append(tantivy.Query.range_query(
                schema, "published_at", tantivy.FieldType.Date,
                lower_bound=flt.published.gte, upper_bound=flt.published.lte))
        out.append(("published", _all(parts)))
    return out


def _all(parts: Sequence[tantivy.Query]) -> tantivy.Query:
    if len(parts) == 1:
        return parts[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, part) for part in parts])


def scoped(schema: tantivy.Schema, scope: SearchScope, named: Clauses,
           skip: str | None = None) -> tantivy.Query:
    """The tenant's query of every clause but `skip`; filters score 0, text keeps its score."""
    parts = [(tantivy.Occur.Must, q if name == "text" else
              tantivy.Query.const_score_query(q, 0.0)) for name, q in named if name != skip]
    if not any(name == "text" for name, _ in named if name != skip):
        parts.append((tantivy.Occur.Must, tantivy.Query.all_query()))
    return tenant_scoped(schema, scope.tenant_id, tantivy.Query.boolean_query(parts))


def fast_sort(query: SearchQuery) -> tuple[str, tantivy.Order] | None:
    """The fast field and direction Tantivy can order an explicit sort by, when that field's
    order agrees with the exact sort value (missing values last, like NULLS LAST): prices are
    the same integers; dates are kept there at second precision, a coarser key that never
    orders two values the other way round. None for relevance, and for titles (sorted by
    `title_sort_key` of the stored title: a fast string field would be cut to a term's
    length)."""
    if query.sort == "relevance":
        return None
    name, direction = query.sort.split(":")
    order = tantivy.Order.Desc if direction == "desc" else tantivy.Order.Asc
    if name == "price":
        return price_fields(query.price_currency or "")[0], order
    return (name, order) if name in DATE_SORTS else None


def facet_aggregation(query: SearchQuery, name: str,
                      currencies: Sequence[str]) -> dict[str, Any]:
    """The aggregation request of one facet (terms on its fast field, or price ranges)."""
    if name == "price":
        low, _ = price_field_pair(query.price_currency, currencies, "currency")
        bounds = query.price_buckets
        ranges: list[dict[str, int]] = [{"to": bounds[0]}]
        ranges += [{"from": a, "to": b} for a, b in zip(bounds, bounds[1:], strict=False)]
        ranges.append({"from": bounds[-1]})
        return {"range": {"field": low, "ranges": ranges}}
    return {"terms": {"field": SPECS[query.doc_type].facet_fields[name], "size": TERMS_SIZE}}


def facet_values(query: SearchQuery, name: str, result: dict[str, Any]) -> dict[str, int]:
    """An aggregation result as {value: count}; price buckets get `model.bucket_label`
    labels (same order as the requested ranges) and empty ones are left out."""
    buckets = result.get("buckets", [])
    if name == "price":
        bounds = query.price_buckets
        labels = [f"0-{bounds[0]}"] + [f"{a}-{b}" for a, b in zip(bounds, bounds[1:],
                                                                    strict=False)]
        labels.append(f"{bounds[-1]}+")
        return {label: int(b["doc_count"]) for label, b in zip(labels, buckets, strict=False)
                if b["doc_count"]}
    out: dict[str, int] = {}
    for bucket in buckets:
        key = bucket.get("key_as_string", bucket["key"])
        if bucket["doc_count"]:
            out[str(key)] = int(bucket["doc_count"])
    return out


def aggregations(schema: tantivy.Schema, query: SearchQuery, scope: SearchScope,
                 named: Clauses, main: tantivy.Query,
                 currencies: Sequence[str]) -> list[tuple[tantivy.Query, dict[str, Any]]]:
    """Facet counts and price stats as one aggregation request per distinct hit set: the
    main query, and the main query without a facet's own filter where that filter is set
    (price stats count like the price facet). Their merged results feed `facet_values` and
    `price_stats`."""
    set_filters = {name for name, _ in named}

    def hit_set(own: str | None) -> str | None:
        return own if own in set_filters else None

    requests: dict[str | None, dict[str, Any]] = {}
    for name in query.facets:
        requests.setdefault(hit_set(OWN_FILTER.get(name)), {})[name] = \
            facet_aggregation(query, name, currencies)
    if _with_stats(query, currencies):
        low, high = price_fields(query.price_currency or "")
        requests.setdefault(hit_set("price"), {}).update(
            {STATS_LOW: {"stats": {"field": low}}, STATS_HIGH: {"stats": {"field": high}}})
    return [(main if skip is None else scoped(schema, scope, named, skip=skip), request)
            for skip, request in requests.items()]


def _with_stats(query: SearchQuery, currencies: Sequence[str]) -> bool:
    return (query.doc_type == "product" and query.price_currency is not None
            and query.price_currency in currencies)


def price_stats(query: SearchQuery, results: dict[str, Any],
                currencies: Sequence[str]) -> tuple[int, int] | None:
    """(min of the minimum prices, max of the maximum prices) from merged aggregation
    results; None without a currency or without any priced hit."""
    if not _with_stats(query, currencies) or not results[STATS_LOW].get("count"):
        return None
    return int(results[STATS_LOW]["min"]), int(results[STATS_HIGH]["max"])
