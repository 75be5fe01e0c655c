"""Tantivy queries for one tenant: user text, structured filters, and the single function
that confines every query to a tenant (pure: builds query objects, searches nothing).

Tenant isolation does not depend on the user text: whatever the parser makes of it
(`tenant_id:OTHER OR title:x`, `*`, a syntax error), the result is only ever a MUST clause
next to a MUST term on `tenant_id`, so it can narrow a tenant's hits but never widen them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import tantivy

from core_write.errors import ValidationFailed
from indexer.tantivy.config import DocType
from indexer.tantivy.schema import SEARCH_FIELDS, FieldSpec

_RANGE_OPS = frozenset({"gte", "gt", "lte", "lt"})
_FIELD_TYPES = {"i64": tantivy.FieldType.Integer, "date": tantivy.FieldType.Date,
                "bool": tantivy.FieldType.Boolean, "raw": tantivy.FieldType.Text}
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "raw": (str,), "i64": (int,), "bool": (bool,), "date": (datetime,),
}


def tenant_scoped(schema: tantivy.Schema, tenant_id: Any, query: tantivy.Query) -> tantivy.Query:
    """`query` restricted to one tenant: the only way the reader builds a query."""
    tenant = str(tenant_id).strip() if tenant_id is not None else ""
    if not tenant:
        raise ValidationFailed("tenant_id", "required")
    tenant_term = tantivy.Query.const_score_query(
        tantivy.Query.term_query(schema, "tenant_id", tenant), 0.0
    )
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, tenant_term), (tantivy.Occur.Must, query)]
    )


def text_query(index: tantivy.Index, doc_type: DocType, text: str | None) -> tantivy.Query:
    """User text over the doc type's search fields, every word required; syntax errors are
    forgiven (lenient parser); blank text matches everything."""
    if text is None or not text.strip():
        return tantivy.Query.all_query()
    boosts = SEARCH_FIELDS[doc_type]
    query, _errors = index.parse_query_lenient(
        text, default_field_names=list(boosts), field_boosts=boosts,
        conjunction_by_default=True,
    )
    return query


def filter_queries(
    schema: tantivy.Schema, specs: Mapping[str, FieldSpec], filters: Mapping[str, Any] | None
) -> list[tantivy.Query]:
    """One query per filter: `field: value` (exact), `field: [v1, v2]` (any of), or
    `field: {"gte": a, "lt": b}` (range). Only exact-valued fields (raw, numbers, booleans,
    dates) can be filtered; `tenant_id` cannot (it is the caller's argument)."""
    queries: list[tantivy.Query] = []
    for name, value in (filters or {}).items():
        where = f"filters.{name}"
        spec = specs.get(name)
        if spec is None or spec.kind == "text" or name == "tenant_id":
            raise ValidationFailed(where, "not a filterable field")
        if isinstance(value, Mapping):
            queries.append(_range(schema, spec, value, where))
        elif isinstance(value, list | tuple | set | frozenset):
            values = [_checked(spec, item, where) for item in value]
            if not values:
                raise ValidationFailed(where, "needs at least one value")
            queries.append(tantivy.Query.term_set_query(schema, name, values))
        else:
            queries.append(
                tantivy.Query.term_query(schema, name, _checked(spec, value, where))
            )
    return queries


def search_query(
    index: tantivy.Index, doc_type: DocType, specs: Mapping[str, FieldSpec], tenant_id: Any,
    text: str | None, filters: Mapping[str, Any] | None = None,
) -> tantivy.Query:
    schema = index.schema
    clauses = [(tantivy.Occur.Must, text_query(index, doc_type, text))]
    clauses += [(tantivy.Occur.Must, tantivy.Query.const_score_query(query, 0.0))
                for query in filter_queries(schema, specs, filters)]
    query = clauses[0][1] if len(clauses) == 1 else tantivy.Query.boolean_query(clauses)
    return tenant_scoped(schema, tenant_id, query)


def _range(schema: tantivy.Schema, spec: FieldSpec, bounds: Mapping[str, Any],
           where: str) -> tantivy.Query:
    unknown = set(bounds) - _RANGE_OPS
    if unknown or not bounds or spec.kind in ("raw", "bool"):
        raise ValidationFailed(where, "a range needs gte/gt/lte/lt on a number or date field")
    if "gte" in bounds and "gt" in bounds or "lte" in bounds and "lt" in bounds:
        raise ValidationFailed(where, "give one lower and one upper bound at most")
    lower = bounds.get("gte", bounds.get("gt"))
    upper = bounds.get("lte", bounds.get("lt"))
    return tantivy.Query.range_query(
        schema, spec.name, _FIELD_TYPES[spec.kind],
        lower_bound=None if lower is None else _checked(spec, lower, where),
        upper_bound=None if upper is None else _checked(spec, upper, where),
        include_lower="gt" not in bounds, include_upper="lt" not in bounds,
    )


def _checked(spec: FieldSpec, value: Any, where: str) -> Any:
    if spec.kind == "raw" and not isinstance(value, str) and value is not None:
        value = str(value)  # ids given as UUIDs
    expected = _PYTHON_TYPES[spec.kind]
    ok = isinstance(value, expected) and not (spec.kind == "i64" and isinstance(value, bool))
    if not ok:
        raise ValidationFailed(where, f"need a {spec.kind} value, got {value!r}")
    return value
