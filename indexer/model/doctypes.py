"""The document types and where each one lives: its index table and key, the columns its
engine documents are built from, its named SQL sections, its advisory lock class (pure).

Every module that needs "which table holds product documents?" reads it here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from indexer.model.docs import ContentDoc, ProductDoc

DocType = Literal["product", "content"]
DOC_TYPES: tuple[DocType, ...] = get_args(DocType)


@dataclass(frozen=True)
class DocTypeSpec:
    doc_type: DocType
    section: str
    """The plural the SQL sections (`build_products`), the CLI, the API routes and the
    Meilisearch index names use."""
    table: str
    """The index table: the canonical read model of this type (migrations/0003_index.sql)."""
    key: str
    """The index table's id column."""
    source: str
    """The source table whose rows become documents."""
    lock_class: int
    """First key of the per-document advisory locks its builders take."""
    columns: str
    """The index columns the engine documents are built from (`indexer.model.engines`)."""
    model: type[ProductDoc] | type[ContentDoc]
    """The typed document a hit carries."""
    highlight: tuple[str, str]
    """The fields a highlighted search marks: the title, and the long text a fragment is cut
    from (every backend marks the same ones)."""
    facet_fields: Mapping[str, str]
    """Facet name → the engine document field it counts (Tantivy and Meilisearch; the price
    facet counts the price fields of its currency)."""

    @property
    def hit_columns(self) -> str:
        """The index columns the hit document is read from (the model's fields, the id as
        the key column)."""
        return ", ".join(self.key if name == "id" else name for name in self.model._fields)


_LANGUAGE = "(SELECT t.settings->>'language' FROM tenants t WHERE t.id = tenant_id) AS language"
"""The tenant's text search configuration beside each index row (no comma: `columns` is split
on them): the Tantivy documents stem their words in it."""



def _weights(column: str) -> str:
    # search_settings has a tenant_id too: the outer subquery names the index row's
    return (f"(SELECT (SELECT s.{column} FROM search_settings s WHERE s.tenant_id = t.id) "
            "FROM tenants t WHERE t.id = tenant_id) AS field_weights")


_PRODUCT_WEIGHTS, _CONTENT_WEIGHTS = _weights("product_weights"), _weights("content_weights")
"""The tenant's field tiers (letters, `indexer.model.relevance.FieldWeights.letters`; NULL:
the defaults) beside each index row: the Tantivy documents put each field's words in its
tier."""

SPECS: Mapping[DocType, DocTypeSpec] = {
    "product": DocTypeSpec(
        "product", "products", "index_products", "product_id", "commerce_products",
        0x50524F44,
        "product_id, tenant_id, title, subtitle, handle, description, status, prices, "
        "currencies, total_stock, has_stock, categories, category_ids, tags, tag_ids, "
        "meta_title, meta_description, created_at, published_at, thumbnail, skus, options, "
        f"option_values, identifiers, version, position, indexed_at, {_LANGUAGE}, "
        f"{_PRODUCT_WEIGHTS}",
        ProductDoc, ("title", "description"),
        {"categories": "category_ids", "tags": "tags", "currencies": "currencies",
         "has_stock": "has_stock", "options": "option_values"}),
    "content": DocTypeSpec(
        "content", "content", "index_content", "node_id", "nodes", 0x434F4E54,
        "node_id, tenant_id, kind, title, slug, excerpt, body_preview, status, author_id, "
        "author_name, category_id, category_name, category_slug, tags, tag_ids, parent_id, "
        "reply_count, meta_title, meta_description, published_at, created_at, version, "
        f"position, indexed_at, {_LANGUAGE}, {_CONTENT_WEIGHTS}",
        ContentDoc, ("title", "body_preview"),
        {"kind": "kind", "categories": "category_id", "tags": "tags", "author": "author_id"}),
}
"""doc type → where its documents live."""
BY_SECTION: Mapping[str, DocType] = {spec.section: doc_type for doc_type, spec in SPECS.items()}
"""`products` / `content` → the doc type (CLI and API names)."""
