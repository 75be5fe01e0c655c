"""Tantivy query pieces the API's compiler (`search_api.compile_tantivy`) builds on: user text,
and the single function that confines every query to a tenant (pure: builds query objects,
searches nothing).

Tenant isolation does not depend on the user text: whatever the parser makes of it
(`tenant_id:OTHER OR title:x`, `*`, a syntax error), the result is only ever a MUST clause
next to a MUST term on `tenant_id`, so it can narrow a tenant's hits but never widen them.
"""

from __future__ import annotations

from typing import Any

import tantivy

from core_write.errors import ValidationFailed
from indexer.model import DocType
from indexer.tantivy.schema import SEARCH_FIELDS


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
