"""The writes of the freshness bench (I/O: core_write): a realistic mix of price and stock
changes, renames, content edits, new products and deletes, each on a target with no other write
of the run in flight, and what its document shows once the write is searchable."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from core_write.services import catalog, content, inventory
from core_write.unit import CoreWrite
from indexer.model import DocType

MIX = (("price", 0.30), ("stock", 0.25), ("rename", 0.15), ("content", 0.15),
       ("create", 0.10), ("delete", 0.05))
"""Share of each kind of write; deletes remove products this run created earlier."""
PRICE_BASE = 10_000_000
"""Probe prices are above any demo price, so they are the product's maximum EUR price."""
STOCK_STEP = 1000
"""Probe stock levels are multiples of this, far above a product's other stock."""


@dataclass
class Probe:
    """A committed write and what its document shows once the write is searchable."""

    kind: str
    doc_type: DocType
    doc_id: uuid.UUID
    doc_field: str
    expected: Any
    token: int | None
    """The write's highest outbox position (for the per-stage times)."""
    committed: float
    committed_wall: float = field(default_factory=time.time)

    def visible(self, doc: dict[str, Any] | None) -> bool:
        if self.kind == "delete":
            return doc is None
        if doc is None or self.kind == "create":
            return doc is not None
        value = doc.get(self.doc_field)
        if self.kind == "stock":  # the probe level plus the product's other (small) stock
            return bool((value or 0) // STOCK_STEP == self.expected // STOCK_STEP)
        if isinstance(self.expected, str):
            return self.expected in (value or "")
        return bool(value == self.expected)


@dataclass
class Targets:
    """What each kind of write changes: disjoint pools, one write in flight per target."""

    tenant: uuid.UUID
    price: list[tuple[uuid.UUID, uuid.UUID]]  # (product, variant)
    stock: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]  # (product, item, location)
    rename: list[uuid.UUID]
    content: list[uuid.UUID]
    created: list[uuid.UUID] = field(default_factory=list)  # visible, not yet deleted
    busy: set[uuid.UUID] = field(default_factory=set)


async def find_targets(pool: asyncpg.Pool) -> Targets:
    tenant = await pool.fetchval("SELECT id FROM tenants LIMIT 1")
    stocked = await pool.fetch(
        "SELECT DISTINCT ON (v.product_id) v.product_id, vi.inventory_item_id, l.location_id "
        "FROM commerce_variant_inventory vi JOIN commerce_variants v ON v.id = vi.variant_id "
        "JOIN commerce_inventory_levels l ON l.inventory_item_id = vi.inventory_item_id "
        # the level then adds to the product's total_stock one for one
        "WHERE v.manage_inventory AND vi.required_quantity = 1 AND NOT EXISTS ("
        "  SELECT 1 FROM commerce_variant_inventory o "
        "  WHERE o.variant_id = vi.variant_id AND o.inventory_item_id <> vi.inventory_item_id) "
        "ORDER BY v.product_id, vi.inventory_item_id, l.location_id")
    variants = await pool.fetch(
        "SELECT DISTINCT ON (product_id) product_id, id FROM commerce_variants "
        "ORDER BY product_id, id")
    nodes = await pool.fetch("SELECT id FROM nodes WHERE kind IN ('post', 'page')")
    rng = random.Random(3)
    stock = [(r["product_id"], r["inventory_item_id"], r["location_id"]) for r in stocked]
    rng.shuffle(stock)
    stock = stock[:len(stock) // 3]
    taken = {product for product, _, _ in stock}
    rest = [(r["product_id"], r["id"]) for r in variants if r["product_id"] not in taken]
    rng.shuffle(rest)
    half = len(rest) // 2
    return Targets(tenant, price=rest[:half], stock=stock,
                   rename=[product for product, _ in rest[half:]],
                   content=[r["id"] for r in nodes])


async def write(core: CoreWrite, targets: Targets, kind: str, n: int) -> Probe | None:
    """Write number `n`, of `kind`; None when every target of the kind has a write in flight.
    A write that raises gives its target back."""
    tenant, token = targets.tenant, f"fresh{n}q"

    def pick(pool: list[Any], key: Callable[[Any], uuid.UUID] = lambda t: t) -> Any:
        for offset in range(len(pool)):
            target = pool[(n + offset) % len(pool)]
            if key(target) not in targets.busy:
                targets.busy.add(key(target))
                return target
        return None

    doc_type: DocType = "product"
    doc_id: uuid.UUID | None = None
    expected: Any = None
    try:
        if kind == "price":
            target = pick(targets.price, lambda t: t[0])
            if target is None:
                return None
            doc_id, variant = target
            amount = PRICE_BASE + n
            written = await core.call(catalog.set_price, tenant, variant, "EUR", amount)
            field, expected = "price_max_eur", amount
        elif kind == "stock":
            target = pick(targets.stock, lambda t: t[0])
            if target is None:
                return None
            doc_id, item, location = target
            level = STOCK_STEP * (1000 + n)
            written = await core.call(inventory.set_stock_level, tenant, item, location, level)
            field, expected = "total_stock", level
        elif kind == "rename":
            doc_id = pick(targets.rename)
            if doc_id is None:
                return None
            written = await core.call(catalog.update_product, tenant, doc_id,
                                      {"title": f"Probe {token}"})
            field, expected = "title", token
        elif kind == "content":
            doc_id = pick(targets.content)
            if doc_id is None:
                return None
            doc_type = "content"
            written = await core.call(content.set_body, tenant, doc_id,
                            {"body": f"Fresh {token} edit of this page.", "format": "plain"})
            field, expected = "body_preview", token
        elif kind == "create":
            written = await core.call(catalog.create_product, tenant, {
                "title": f"New {token}", "handle": f"new-{token}", "status": "published"})
            doc_id = written.value["id"]
            targets.busy.add(doc_id)
            field = "id"
        else:
            doc_id = pick(targets.created)
            if doc_id is None:
                return None
            targets.created.remove(doc_id)
            try:
                written = await core.call(catalog.delete_product, tenant, doc_id)
            except BaseException:
                targets.created.append(doc_id)
                raise
            field = "id"
    except BaseException:
        if doc_id is not None:
            targets.busy.discard(doc_id)
        raise
    return Probe(kind, doc_type, doc_id, field, expected, written.token, time.perf_counter())
