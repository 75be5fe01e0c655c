"""Fan-out resolution, the pure half: which documents an event changes (pure).

An event maps to documents named directly (`Docs`) or to a `Lookup` that SQL resolves against
the current source *and* the index tables (so a deleted category still finds the products
whose documents name it). Every lookup is scoped to the event's tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core_write import events as ev
from indexer.model import BY_SECTION, DocType

# lookup name -> the document type it yields
LOOKUPS: dict[str, DocType] = {
    "products_of_items": "product",
    "products_of_variants": "product",
    "products_of_options": "product",
    "products_in_categories": "product",
    "tagged_products": "product",
    "tenant_products": "product",
    "content_in_categories": "content",
    "tagged_content": "content",
    "author_content": "content",
    "content_parents": "content",
    "tenant_content": "content",
}
AUTHOR_FIELDS = frozenset({"display_name", "email"})


@dataclass(frozen=True)
class Docs:
    doc_type: DocType
    ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True)
class Lookup:
    name: str
    ids: tuple[uuid.UUID, ...]


Target = Docs | Lookup


def _node(node_id: uuid.UUID, *parents: uuid.UUID | None) -> list[Target]:
    known = tuple(p for p in parents if p is not None)
    targets: list[Target] = [Docs("content", (node_id, *known)),
                             Lookup("content_parents", (node_id,))]
    return targets


def targets_of(event: ev.Event) -> list[Target]:
    """The documents one event changes; [] for events that change no document."""
    match event:
        case ev.NodeCreated(node_id=nid, parent_id=parent):
            return _node(nid, parent)
        case ev.NodeUpdated(node_id=nid, old_parent_id=old_parent):
            return _node(nid, old_parent)
        case ev.NodeDeleted(node_id=nid, parent_id=parent):
            return _node(nid, parent)
        case ev.NodePublished(node_id=nid) | ev.NodeUnpublished(node_id=nid) | \
                ev.BodyUpdated(node_id=nid):
            return _node(nid)
        case ev.CategoryUpdated(category_id=cid) | ev.CategoryDeleted(category_id=cid):
            return [Lookup("content_in_categories", (cid,))]
        case ev.TagUpdated(tag_id=tid) | ev.TagDeleted(tag_id=tid):
            return [Lookup("tagged_products", (tid,)), Lookup("tagged_content", (tid,))]
        case ev.TagAttached(target_type=kind, target_id=target) | \
                ev.TagDetached(target_type=kind, target_id=target):
            return [Docs("product" if kind == "product" else "content", (target,))]
        case ev.MetaUpdated(target_type=kind, target_id=target) | \
                ev.MetaDeleted(target_type=kind, target_id=target):
            if kind == "product":
                return [Docs("product", (target,))]
            if kind == "node":
                return [Docs("content", (target,))]
            return []
        case ev.UserUpdated(user_id=uid, changed=changed):
            return [Lookup("author_content", (uid,))] if AUTHOR_FIELDS & set(changed) else []
        case ev.UserDeleted(user_id=uid):
            return [Lookup("author_content", (uid,))]
        case ev.TenantUpdated(tenant_id=tid, changed=changed):
            # the language setting changes every search vector of the tenant
            if "settings" in changed:
                return [Lookup("tenant_products", (tid,)), Lookup("tenant_content", (tid,))]
            return []
        case ev.TenantDeleted(tenant_id=tid):
            return [Lookup("tenant_products", (tid,)), Lookup("tenant_content", (tid,))]
        case ev.ProductEvent(product_id=pid):
            # product, variant, option, price and category-link events all name the product
            return [Docs("product", (pid,))]
        case ev.CommerceCategoryUpdated(category_id=cid) | \
                ev.CommerceCategoryDeleted(category_id=cid):
            return [Lookup("products_in_categories", (cid,))]
        case ev.InventoryUpdated(inventory_item_id=item) | \
                ev.VariantInventoryLinked(inventory_item_id=item) | \
                ev.VariantInventoryUnlinked(inventory_item_id=item):
            targets: list[Target] = [Lookup("products_of_items", (item,))]
            if isinstance(event, ev.VariantInventoryLinked | ev.VariantInventoryUnlinked):
                targets.append(Docs("product", (event.product_id,)))
            return targets
        case ev.InventoryItemDeleted(variant_ids=variants):
            return [Lookup("products_of_variants", tuple(variants))] if variants else []
        case ev.StockLocationDeleted(inventory_item_ids=items):
            return [Lookup("products_of_items", tuple(items))] if items else []
        case ev.InventoryLow(product_id=pid):
            return [Docs("product", (pid,))]
        case ev.RowChanged():
            return row_targets(event)
        case ev.ReindexRequested(target_type=kind, target_id=target, target_ids=many):
            doc_type = BY_SECTION[kind]
            if many:
                return [Docs(doc_type, (*many, *([target] if target else [])))]
            if target is not None:
                return [Docs(doc_type, (target,))]
            return [Lookup(f"tenant_{kind}", ())]
    return []


# ---- rows changed outside core_write (capture triggers, migration 0013) ------------------
# table -> how its fan-out keys lead to documents: a document type (the keys are its ids) or
# the lookups that resolve them, as the domain events of the same change do.
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "commerce_products": ("product",),
    "commerce_variants": ("product",),  # keyed by product_id
    "commerce_options": ("product",),  # keyed by product_id
    "commerce_product_categories": ("product",),  # keyed by product_id
    "commerce_option_values": ("products_of_options",),
    "commerce_variant_options": ("products_of_variants",),
    "commerce_prices": ("products_of_variants",),
    "commerce_variant_inventory": ("products_of_variants",),
    "commerce_inventory_items": ("products_of_items",),
    "commerce_inventory_levels": ("products_of_items",),
    "commerce_categories": ("products_in_categories",),
    "nodes": ("content", "content_parents"),
    "bodies": ("content",),
    "categories": ("content_in_categories",),
    "tags": ("tagged_products", "tagged_content"),
    "users": ("author_content",),
    "tenants": ("tenant_products", "tenant_content"),
}
# polymorphic links (taggables, meta): `kind` names the document type of the keys
ROW_KINDS: dict[str, DocType] = {"product": "product", "node": "content"}
# table -> the columns the document builders read: an UPDATE of none of them changes no
# document (tables missing here count every column)
ROW_COLUMNS: dict[str, frozenset[str]] = {
    "commerce_products": frozenset({"tenant_id", "title", "subtitle", "handle", "description",
                                    "status", "created_at", "published_at", "thumbnail"}),
    "commerce_variants": frozenset({"product_id", "manage_inventory", "allow_backorder", "sku",
                                    "barcode", "position"}),
    "commerce_prices": frozenset({"variant_id", "amount", "currency_code", "price_list_id",
                                  "min_quantity"}),
    "commerce_inventory_levels": frozenset({"inventory_item_id", "stocked_quantity",
                                            "reserved_quantity"}),
    "commerce_categories": frozenset({"name", "handle", "is_active", "is_internal"}),
    "nodes": frozenset({"tenant_id", "kind", "title", "slug", "excerpt", "status", "author_id",
                        "category_id", "parent_id", "reply_count", "published_at",
                        "created_at"}),
    "bodies": frozenset({"body"}),
    "categories": frozenset({"name", "slug"}),
    "tags": frozenset({"name"}),
    "meta": frozenset({"target_type", "target_id", "title", "description"}),
    "users": AUTHOR_FIELDS,
    "tenants": frozenset({"settings"}),
}
PRODUCT_TABLES = frozenset(t for t in ROW_KEYS if t.startswith("commerce_"))
CONTENT_TABLES = frozenset({"nodes", "bodies", "categories", "users"})


def _row_target(how: str, keys: tuple[uuid.UUID, ...]) -> Target:
    if how == "product":
        return Docs("product", keys)
    if how == "content":
        return Docs("content", keys)
    return Lookup(how, keys)


def row_targets(event: ev.RowChanged) -> list[Target]:
    """The documents rows changed outside core_write affect (pure); a TRUNCATE affects every
    document of the tenant of the types the table feeds."""
    if event.op == "truncate":
        return [Lookup(name, ()) for name, other in (("tenant_products", CONTENT_TABLES),
                                                     ("tenant_content", PRODUCT_TABLES))
                if event.table not in other]
    columns = ROW_COLUMNS.get(event.table)
    if event.op == "update" and columns is not None and not columns & set(event.changed):
        return []
    keys = tuple(event.keys)
    if event.table in ("taggables", "meta"):
        doc_type = ROW_KINDS.get(event.kind or "")
        return [Docs(doc_type, keys)] if doc_type is not None else []
    return [_row_target(how, keys) for how in ROW_KEYS.get(event.table, ())]


def planned_size(event: ev.Event) -> int:
    """How many documents and lookup keys an event names (at least 1; pure)."""
    return max(1, sum(len(target.ids) for target in targets_of(event)))


def bounded_groups(sizes: Sequence[int], limit: int) -> list[slice]:
    """Consecutive slices whose sizes add up to at most `limit`; an item larger than `limit`
    makes a slice of its own (pure)."""
    groups: list[slice] = []
    start, total = 0, 0
    for i, size in enumerate(sizes):
        if i > start and total + size > limit:
            groups.append(slice(start, i))
            start, total = i, 0
        total += size
    if start < len(sizes):
        groups.append(slice(start, len(sizes)))
    return groups


@dataclass
class BatchPlan:
    """What one batch must rebuild: documents and lookups per tenant, each with the time of
    the oldest event behind it (for the event-to-searchable lag)."""

    docs: dict[tuple[uuid.UUID, DocType], dict[uuid.UUID, datetime]] = field(default_factory=dict)
    lookups: dict[tuple[uuid.UUID, str], dict[uuid.UUID, datetime]] = field(default_factory=dict)

    def add(self, tenant_id: uuid.UUID, at: datetime, target: Target) -> None:
        if isinstance(target, Docs):
            bucket = self.docs.setdefault((tenant_id, target.doc_type), {})
        else:
            bucket = self.lookups.setdefault((tenant_id, target.name), {})
        ids = target.ids or (tenant_id,)  # tenant-wide lookups are keyed by the tenant
        for doc_id in ids:
            if doc_id not in bucket or at < bucket[doc_id]:
                bucket[doc_id] = at


def plan_batch(envelopes: Iterable[ev.EventEnvelope]) -> BatchPlan:
    """Coalesce a batch of events into the documents and lookups to rebuild (pure)."""
    plan = BatchPlan()
    for envelope in envelopes:
        for target in targets_of(envelope.event):
            plan.add(envelope.tenant_id, envelope.timestamp, target)
    return plan
