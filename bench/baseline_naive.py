"""The manifest's per-entity product indexer (section 7.2), honestly: one product at a time,
one query per relation, one upsert each, into the same `index_products` table and with the
same document as ours (I/O: PostgreSQL, one connection). The baseline of the reindex bench.

Per product: the product, its variants, their prices, their stock, its categories, its tags,
its meta (7 SELECTs), then one upsert that computes the search vector (the indexer's own
versioned upsert, given the document's values instead of building them). Corrections the
manifest lacks but our documents need are kept (prices per currency, the tenant's language,
the version), so both write the same rows and `verify` accepts either.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import asyncpg

from bench.queries import QUERIES
from indexer.queries import QUERIES as INDEXER_QUERIES

UPSERT = QUERIES["naive_built"] + "\n" + INDEXER_QUERIES["write_products"]
"""The indexer's own versioned upsert, for one document built from the values given."""


def _available(rows: Iterable[Mapping[str, Any]]) -> dict[uuid.UUID, int]:
    """Per variant, what its scarcest inventory item allows (integer division as in SQL)."""
    out: dict[uuid.UUID, int] = {}
    for row in rows:
        total, need = int(row["available"]), int(row["required_quantity"])
        units = abs(total) // need * (1 if total >= 0 else -1)
        out[row["variant_id"]] = min(out.get(row["variant_id"], units), units)
    return out


def product_values(
    product: Mapping[str, Any], variants: Sequence[Mapping[str, Any]],
    prices: Sequence[Mapping[str, Any]], stock: Iterable[Mapping[str, Any]],
    categories: Sequence[Mapping[str, Any]], tags: Sequence[Mapping[str, Any]],
    meta: Mapping[str, Any] | None, config: str,
) -> tuple[Any, ...]:
    """The `naive_built` arguments of one product document (pure; no engine is queued)."""
    ranges: dict[str, dict[str, int]] = {}
    for price in prices:
        entry = ranges.setdefault(price["currency_code"], {"min": price["amount"],
                                                           "max": price["amount"]})
        entry["min"] = min(entry["min"], price["amount"])
        entry["max"] = max(entry["max"], price["amount"])
    available = _available(stock)
    units = {v["id"]: available.get(v["id"], 0) for v in variants}
    managed = [max(units[v["id"]], 0) for v in variants if v["manage_inventory"]]
    has_stock = any(not v["manage_inventory"] or v["allow_backorder"] or units[v["id"]] > 0
                    for v in variants)
    shown = sorted((c for c in categories if c["is_active"] and not c["is_internal"]),
                   key=lambda c: (c["name"], c["id"]))
    ordered_tags = sorted(tags, key=lambda t: (t["name"], t["id"]))
    tag_names = [t["name"] for t in ordered_tags]
    names = " ".join(c["name"] for c in shown)  # the builder's order: name, then id
    weight_b = " ".join(part for part in (product["subtitle"], " ".join(tag_names), names)
                        if part)
    return (
        product["id"], product["tenant_id"], [], product["title"], product["subtitle"],
        product["handle"], product["description"], product["status"], ranges, sorted(ranges),
        sum(managed), has_stock,
        [{"id": str(c["id"]), "name": c["name"], "handle": c["handle"]} for c in shown],
        [c["id"] for c in shown], tag_names, [t["id"] for t in ordered_tags],
        meta["title"] if meta else None, meta["description"] if meta else None, config,
        weight_b, product["created_at"], product["published_at"],
    )


async def index_product(conn: asyncpg.Connection, product_id: uuid.UUID, config: str) -> bool:
    """Fetch one product relation by relation and upsert its document; False if it is gone."""
    product = await conn.fetchrow(QUERIES["naive_product"], product_id)
    if product is None:
        return False
    variants = await conn.fetch(QUERIES["naive_variants"], product_id)
    variant_ids = [v["id"] for v in variants]
    prices = await conn.fetch(QUERIES["naive_prices"], variant_ids)
    stock = await conn.fetch(QUERIES["naive_stock"], variant_ids)
    categories = await conn.fetch(QUERIES["naive_categories"], product_id)
    tags = await conn.fetch(QUERIES["naive_tags"], product["tenant_id"], product_id)
    meta = await conn.fetchrow(QUERIES["naive_meta"], product["tenant_id"], product_id)
    await conn.execute(UPSERT, *product_values(
        product, variants, prices, stock, categories, tags, meta, config))
    return True


async def reindex_naive(conn: asyncpg.Connection, tenant_ids: Sequence[uuid.UUID],
                        limit: int | None = None) -> list[uuid.UUID]:
    """The manifest's `reindex_tenant` for each tenant in turn (at most `limit` products in
    all); returns the ids indexed."""
    done: list[uuid.UUID] = []
    for tenant_id in tenant_ids:
        config = await conn.fetchval(QUERIES["naive_tenant_language"], tenant_id)
        for row in await conn.fetch(QUERIES["naive_product_ids"], tenant_id):
            if limit is not None and len(done) >= limit:
                return done
            if await index_product(conn, row["id"], config):
                done.append(row["id"])
    return done
