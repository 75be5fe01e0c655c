"""The WHERE clauses of the Postgres query compiler, each named so a facet can drop its own:
tenant, status, merchandising bounds and tiers, the text match (or an identifier) and the
product and content filters (pure: no I/O)."""

from __future__ import annotations

from indexer.model import DocType
from indexer.model.text import identifier_key
from search_api.filters import ContentFilter, FilterTest, ProductFilter, option_groups
from search_api.model import SearchQuery
from search_api.pg_tables import Params, table_of
from search_api.pg_text import TQ
from search_api.scope import SearchScope


def _id_clauses(key: str, scope: SearchScope, p: Params) -> list[tuple[str, str]]:
    """The scope's merchandising bounds: only some documents (a pin lookup), or not some."""
    out = []
    if scope.only_ids is not None:
        out.append(("ids", f"{key} = ANY({p.add(sorted(scope.only_ids))}::uuid[])"))
    if scope.exclude_ids:
        out.append(("not_ids",
                     f"NOT ({key} = ANY({p.add(sorted(scope.exclude_ids))}::uuid[]))"))
    return out


def where_clauses(query: SearchQuery, scope: SearchScope, p: Params, skip: str | None = None,
                  ) -> list[tuple[str, str]]:
    """Named WHERE clauses but `skip`; only the parameters of the kept clauses are added.
    With user text the statement must name the text CTE (`pg_text.text_query`,
    `pg_text.with_ctes`)."""
    tenant = p.add(scope.tenant_id)
    clauses: list[tuple[str, str]] = [("tenant", f"tenant_id = {tenant}")]
    flt = query.filter
    statuses = scope.statuses(query)
    if statuses is not None:
        clauses.append(("status", f"status = ANY({p.add(statuses)}::text[])"))
    clauses += _id_clauses(table_of(query).key, scope, p)
    if scope.tier:
        clauses.append(("tier", _tier(scope, p)))
    if query.q:
        text = f"search_vector @@ {TQ.format('match')}"
        ident = identifier_match(query, p)
        clauses.append(("text", text if ident is None else f"({text} OR {ident})"))
    if isinstance(flt, ProductFilter):
        clauses += _product_filters(flt, p, skip)
    elif isinstance(flt, ContentFilter):
        clauses += _content_filters(flt, p, skip)
    return clauses


def _tier(scope: SearchScope, p: Params) -> str:
    """The scope's merchandising tier (`SearchScope.tier`) as one condition. A filter's
    condition is NULL on a document without the field, so each test is made true or false
    (`IS TRUE`): a negated test holds for those documents too, as on the other engines."""
    def matches(flt: ProductFilter | ContentFilter) -> str:
        parts = (_product_filters(flt, p, None) if isinstance(flt, ProductFilter)
                 else _content_filters(flt, p, None))
        if flt.status:
            parts.append(("status", f"status = ANY({p.add(list(flt.status))}::text[])"))
        return " AND ".join(f"({sql})" for _, sql in parts) or "TRUE"

    def test(t: FilterTest) -> str:
        found = " OR ".join(f"({matches(flt)})" for flt in t.filters) or "FALSE"
        return f"({found}) IS {'NOT ' if t.negate else ''}TRUE"

    return " AND ".join("(" + " OR ".join(test(t) for t in group) + ")"
                        for group in scope.tier)


IDENTIFIER_SQL: dict[DocType, str] = {
    "product": "identifiers @> ARRAY[{key}]",
    "content": "lower(slug) = {key}",
}
"""A document whose identifier (product: lowercased handle, SKUs, barcodes; content: slug)
is the query key; both use an index (GIN on `identifiers`, `(tenant_id, lower(slug))`)."""


def identifier_match(query: SearchQuery, p: Params) -> str | None:
    """The condition that the whole query is one of the document's identifiers (exactly,
    case-insensitively: `text.identifier_key`), OR'ed with the text match; None without
    text."""
    key = identifier_key(query.q)
    if key is None:
        return None
    return IDENTIFIER_SQL[query.doc_type].format(key=p.add(key) + "::text")


def _product_filters(flt: ProductFilter, p: Params,
                     skip: str | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if flt.categories and skip != "categories":
        out.append(("categories", f"category_ids && {p.add(flt.categories)}::uuid[]"))
    if flt.tags and skip != "tags":
        out.append(("tags", f"tags && {p.add(flt.tags)}::text[]"))
    if flt.price is not None and skip != "price":
        cur = p.add(flt.price.currency) + "::text"
        parts = [f"prices ? {cur}"]
        if flt.price.min is not None:
            parts.append(f"(prices->{cur}->>'max')::bigint >= {p.add(flt.price.min)}")
        if flt.price.max is not None:
            parts.append(f"(prices->{cur}->>'min')::bigint <= {p.add(flt.price.max)}")
        out.append(("price", " AND ".join(parts)))
    if flt.has_stock is not None and skip != "has_stock":
        out.append(("has_stock", f"has_stock = {p.add(flt.has_stock)}"))
    if flt.options and skip != "options":
        out.append(("options", " AND ".join(f"option_values && {p.add(group)}::text[]"
                                            for group in option_groups(flt.options))))
    return out


def _content_filters(flt: ContentFilter, p: Params,
                     skip: str | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if flt.kind and skip != "kind":
        out.append(("kind", f"kind = ANY({p.add(list(flt.kind))}::text[])"))
    if flt.categories and skip != "categories":
        out.append(("categories", f"category_id = ANY({p.add(flt.categories)}::uuid[])"))
    if flt.tags and skip != "tags":
        out.append(("tags", f"tags && {p.add(flt.tags)}::text[]"))
    if flt.author and skip != "author":
        out.append(("author", f"author_id = ANY({p.add(flt.author)}::uuid[])"))
    if flt.published is not None:
        parts = ["published_at IS NOT NULL"]
        if flt.published.gte is not None:
            parts.append(f"published_at >= {p.add(flt.published.gte)}")
        if flt.published.lte is not None:
            parts.append(f"published_at <= {p.add(flt.published.lte)}")
        out.append(("published", " AND ".join(parts)))
    return out
