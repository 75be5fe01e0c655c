"""Bulk-loads the demo catalog into the source tables with COPY, bypassing the services and
the outbox (I/O: PostgreSQL): the plans of `rustok_search.demo_data`, same seed, same products.

    python -m bench catalog --database bench_catalog --products 100000 [--tenants 3] [--nodes M]

The rows have the shape the services write (ULID ids, one option per product with its values,
1-5 variants with prices in 1-3 currencies, an inventory item per variant stocked at the
tenant's two locations, categories, tags, SEO meta), so `rustok-search reindex` then `verify`
on such a database is clean. Loading connections run with `session_replication_role =
replica` (superuser only): foreign-key and counter triggers are skipped, the rows are correct by
construction, and the counters the triggers keep (tags.use_count, categories.node_count,
nodes.reply_count) are computed set-based at the end. Plans are generated in a stream, a chunk
at a time, so memory stays flat at any size. No event reaches the outbox: index with
`rustok-search reindex`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from argon2 import PasswordHasher

from bench import lifecycle
from bench.queries import QUERIES
from core_write.db import connect, with_database
from core_write.migrations import migrate
from core_write.partitions import ensure_order_partitions
from core_write.services.tenants import KNOWN_MODULES
from core_write.validate import slugify
from rustok_search.demo_data import (
    BRANDS,
    CATEGORY_TREE,
    CONTENT_CATEGORIES,
    TAGS,
    NodePlan,
    ProductPlan,
    TenantPlan,
    node_plan,
    plan_demo,
    product_plan,
)
from rustok_search.demo_writer import DEMO_PASSWORD

DEFAULT_BASE = "postgresql://postgres@127.0.0.1:5432/postgres"
AUTHORS_PER_TENANT = 5  # what plan_demo gives each tenant; its RNG draws one brand per author

COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("id", "tenant_id", "email", "display_name", "password_hash", "role"),
    "commerce_stock_locations": ("id", "tenant_id", "name"),
    "commerce_categories": ("id", "tenant_id", "parent_id", "name", "handle"),
    "categories": ("id", "tenant_id", "parent_id", "name", "slug", "depth"),
    "tags": ("id", "tenant_id", "name", "slug"),
    "commerce_products": ("id", "tenant_id", "title", "subtitle", "handle", "description",
                          "status", "published_at", "thumbnail"),
    "commerce_options": ("id", "tenant_id", "product_id", "title", "position"),
    "commerce_option_values": ("id", "tenant_id", "option_id", "value", "position"),
    "commerce_variants": ("id", "tenant_id", "product_id", "title", "sku", "manage_inventory",
                          "allow_backorder", "position"),
    "commerce_variant_options": ("tenant_id", "variant_id", "option_value_id"),
    "commerce_prices": ("id", "tenant_id", "variant_id", "amount", "currency_code"),
    "commerce_inventory_items": ("id", "tenant_id", "sku"),
    "commerce_variant_inventory": ("tenant_id", "variant_id", "inventory_item_id"),
    "commerce_inventory_levels": ("id", "tenant_id", "inventory_item_id", "location_id",
                                  "stocked_quantity"),
    "commerce_product_categories": ("tenant_id", "product_id", "category_id"),
    "nodes": ("id", "tenant_id", "parent_id", "author_id", "kind", "title", "slug", "excerpt",
              "category_id", "status", "depth", "published_at"),
    "taggables": ("tenant_id", "tag_id", "target_type", "target_id"),
    "meta": ("id", "tenant_id", "target_type", "target_id", "title", "description"),
}


# ---- plans, streamed (pure) ----------------------------------------------------------------
def stream_plans(products: int, nodes: int, tenants: int, seed: int
                 ) -> tuple[list[TenantPlan], Iterator[ProductPlan], Iterator[NodePlan]]:
    """`plan_demo`'s tenants, products and nodes, the latter two generated lazily in the same
    RNG order (so the same seed gives the same catalog); consume the products first."""
    plans = plan_demo(0, 0, tenants, seed)
    rng = random.Random(seed)
    for _ in range(tenants * AUTHORS_PER_TENANT):
        rng.choice(BRANDS)

    def product_stream() -> Iterator[ProductPlan]:
        for number in range(products):
            yield product_plan(rng, number % tenants, number)

    def node_stream() -> Iterator[NodePlan]:
        counts = [0] * tenants
        for number in range(nodes):
            tenant = number % tenants
            yield node_plan(rng, tenant, counts[tenant], AUTHORS_PER_TENANT)
            counts[tenant] += 1

    return plans, product_stream(), node_stream()


class UlidIds:
    """Monotonic ULIDs as UUIDs (48-bit milliseconds, then 80 bits started at random and
    incremented), as `core_write.ids.new_id` makes them but without its per-id cost."""

    def __init__(self) -> None:
        self._next = (int(time.time() * 1000) << 80) | random.getrandbits(79)

    def __call__(self) -> uuid.UUID:
        self._next += 1
        return uuid.UUID(int=self._next)


@dataclass
class TenantIds:
    tenant: uuid.UUID
    language: str
    authors: list[uuid.UUID] = field(default_factory=list)
    locations: list[uuid.UUID] = field(default_factory=list)
    commerce_categories: dict[str, uuid.UUID] = field(default_factory=dict)
    content_categories: dict[str, uuid.UUID] = field(default_factory=dict)
    tags: dict[str, uuid.UUID] = field(default_factory=dict)
    nodes: list[tuple[uuid.UUID, int]] = field(default_factory=list)  # (id, depth) by index


Records = dict[str, list[tuple[Any, ...]]]


def _records() -> Records:
    return {table: [] for table in COLUMNS}


def tenant_rows(plan: TenantPlan, ids: TenantIds, new_id: UlidIds, password_hash: str,
                into: Records) -> None:
    """A tenant's authors, stock locations, category trees and tags (pure)."""
    t = ids.tenant
    for email, name in plan.authors:
        ids.authors.append(new_id())
        into["users"].append((ids.authors[-1], t, email, name, password_hash, "author"))
    for name in plan.locations:
        ids.locations.append(new_id())
        into["commerce_stock_locations"].append((ids.locations[-1], t, name))
    for parent, children in CATEGORY_TREE.items():
        top = new_id()
        into["commerce_categories"].append((top, t, None, parent, slugify(parent)))
        for child in children:
            ids.commerce_categories[slugify(child)] = new_id()
            into["commerce_categories"].append(
                (ids.commerce_categories[slugify(child)], t, top, child, slugify(child)))
    for parent, children in CONTENT_CATEGORIES.items():
        top = new_id()
        into["categories"].append((top, t, None, parent, slugify(parent, 255), 0))
        for child in children:
            ids.content_categories[slugify(child)] = new_id()
            into["categories"].append(
                (ids.content_categories[slugify(child)], t, top, child, slugify(child), 1))
    for tag in TAGS:
        ids.tags[tag] = new_id()
        into["tags"].append((ids.tags[tag], t, tag, slugify(tag, 100)))


def product_rows(plan: ProductPlan, ids: TenantIds, new_id: UlidIds, now: datetime,
                 into: Records) -> None:
    """The rows `rustok_search.demo_writer` writes for one product through the services (pure)."""
    t, pid = ids.tenant, new_id()
    into["commerce_products"].append((
        pid, t, plan.title, plan.subtitle, plan.handle, plan.description, plan.status,
        now if plan.status == "published" else None, plan.thumbnail))
    option = new_id()
    into["commerce_options"].append((option, t, pid, plan.option_title, 0))
    value_ids: dict[str, uuid.UUID] = {}
    for position, value in enumerate(sorted({v for x in plan.variants for v in x.option_values})):
        value_ids[value] = new_id()
        into["commerce_option_values"].append((value_ids[value], t, option, value, position))
    for position, variant in enumerate(plan.variants):
        vid, item = new_id(), new_id()
        into["commerce_variants"].append((vid, t, pid, variant.title, variant.sku,
                                          variant.manage_inventory, variant.allow_backorder,
                                          position))
        for value in variant.option_values:
            into["commerce_variant_options"].append((t, vid, value_ids[value]))
        for currency, amount in variant.prices.items():
            into["commerce_prices"].append((new_id(), t, vid, amount, currency))
        into["commerce_inventory_items"].append((item, t, variant.sku))
        into["commerce_variant_inventory"].append((t, vid, item))
        for location, quantity in zip(ids.locations, variant.stock, strict=False):
            into["commerce_inventory_levels"].append((new_id(), t, item, location, quantity))
    for handle in plan.categories:
        into["commerce_product_categories"].append((t, pid, ids.commerce_categories[handle]))
    for tag in plan.tags:
        into["taggables"].append((t, ids.tags[tag], "product", pid))
    if plan.meta_title:
        into["meta"].append((new_id(), t, "product", pid, plan.meta_title, plan.subtitle))


def node_rows(plan: NodePlan, ids: TenantIds, new_id: UlidIds, now: datetime,
              into: Records, bodies: list[tuple[uuid.UUID, str]]) -> None:
    """The rows `demo_writer` writes for one node (pure); its body goes to `bodies`."""
    t, nid = ids.tenant, new_id()
    parent, depth = (None, 0) if plan.parent is None else (
        ids.nodes[plan.parent][0], ids.nodes[plan.parent][1] + 1)
    ids.nodes.append((nid, depth))
    into["nodes"].append((
        nid, t, parent, ids.authors[plan.author], plan.kind, plan.title, plan.slug,
        plan.excerpt, ids.content_categories[plan.category] if plan.category else None,
        plan.status, depth, now if plan.status == "published" else None))
    bodies.append((nid, plan.body))
    for tag in plan.tags:
        into["taggables"].append((t, ids.tags[tag], "node", nid))
    if plan.meta_title:
        into["meta"].append((new_id(), t, "node", nid, plan.meta_title, None))


# ---- loading (I/O) -------------------------------------------------------------------------
@dataclass(frozen=True)
class Chunk:
    records: Records
    bodies: dict[uuid.UUID, list[tuple[uuid.UUID, str]]]  # per tenant
    products: int


@dataclass
class CatalogReport:
    database: str
    tenants: int
    products: int
    nodes: int
    rows: int
    seconds: float
    tenant_slugs: list[str]

    def summary(self) -> str:
        return (f"catalog {self.database}: {self.tenants} tenants "
                f"({', '.join(self.tenant_slugs)}), {self.products} products, {self.nodes} "
                f"nodes, {self.rows:,} source rows in {self.seconds:.1f} s "
                f"({self.products / max(self.seconds, 1e-9):,.0f} products/s)")


async def _bulk_connection(dsn: str) -> asyncpg.Connection:
    conn = await connect(dsn)
    await conn.execute("SET session_replication_role = replica")
    return conn


async def _copy(conn: asyncpg.Connection, chunk: Chunk) -> int:
    rows = 0
    async with conn.transaction():
        for table, records in chunk.records.items():
            if records:
                await conn.copy_records_to_table(table, records=records, columns=COLUMNS[table])
                rows += len(records)
        for tenant, bodies in chunk.bodies.items():
            node_ids, texts = zip(*bodies, strict=True)
            await conn.execute(QUERIES["catalog_bodies"], tenant, list(node_ids), list(texts))
            rows += len(bodies)
    return rows


def _chunks(plans: list[TenantPlan], all_ids: list[TenantIds], products: Iterator[ProductPlan],
            nodes: Iterator[NodePlan], new_id: UlidIds, size: int) -> Iterator[Chunk]:
    while True:
        records, now, count = _records(), datetime.now(UTC), 0
        for plan in products:
            product_rows(plan, all_ids[plan.tenant], new_id, now, records)
            count += 1
            if count == size:
                break
        if not count:
            break
        yield Chunk(records, {}, count)
    while True:
        records, count = _records(), 0
        bodies: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {}
        for node in nodes:
            ids = all_ids[node.tenant]
            node_rows(node, ids, new_id, datetime.now(UTC), records,
                      bodies.setdefault(ids.tenant, []))
            count += 1
            if count == size:
                break
        if not count:
            break
        yield Chunk(records, bodies, 0)


async def load_catalog(dsn: str, products: int, nodes: int = 0, tenants: int = 3,
                       seed: int = 42, connections: int = 2, chunk: int = 2000
                       ) -> CatalogReport:
    """Create and migrate the database in `dsn` if needed, then bulk-load the demo catalog;
    refuses (ValueError) if a demo tenant exists already."""
    await migrate(dsn)
    started = time.perf_counter()
    plans, product_plans, node_plans = stream_plans(products, nodes, tenants, seed)
    new_id = UlidIds()
    setup = await _bulk_connection(dsn)
    try:
        await ensure_order_partitions(setup, 4)
        taken = await setup.fetch(QUERIES["catalog_taken_slugs"], [p.slug for p in plans])
        if taken:
            raise ValueError(f"demo tenants exist already ({', '.join(r['slug'] for r in taken)})"
                             ": load the catalog into an empty database")
        password_hash = await asyncio.to_thread(PasswordHasher().hash, DEMO_PASSWORD)
        all_ids, records = [], _records()
        async with setup.transaction():
            for plan in plans:
                ids = TenantIds(new_id(), plan.language)
                all_ids.append(ids)
                await setup.execute(QUERIES["catalog_tenant"], ids.tenant, plan.name, plan.slug,
                                    {"language": plan.language, "low_stock_threshold": 5})
                await setup.execute(QUERIES["catalog_modules"], ids.tenant,
                                    [new_id() for _ in KNOWN_MODULES], list(KNOWN_MODULES))
                tenant_rows(plan, ids, new_id, password_hash, records)
        rows = await _copy(setup, Chunk(records, {}, 0))
        queue: asyncio.Queue[Chunk | None] = asyncio.Queue(maxsize=connections)
        workers = [setup, *[await _bulk_connection(dsn) for _ in range(connections - 1)]]

        async def produce() -> None:
            for part in _chunks(plans, all_ids, product_plans, node_plans, new_id, chunk):
                await queue.put(part)
            for _ in workers:
                await queue.put(None)

        async def consume(conn: asyncpg.Connection) -> int:
            copied = 0
            while (part := await queue.get()) is not None:
                copied += await _copy(conn, part)
            return copied

        try:  # one failing copy or plan stops the others (none is left waiting on the queue)
            async with asyncio.TaskGroup() as group:
                group.create_task(produce())
                copies = [group.create_task(consume(conn)) for conn in workers]
        finally:
            for conn in workers[1:]:
                await conn.close()
        rows += sum(copy.result() for copy in copies)
        tenant_ids = [ids.tenant for ids in all_ids]
        for name in ("catalog_tag_counts", "catalog_category_counts", "catalog_reply_counts"):
            await setup.execute(QUERIES[name], tenant_ids)
        # fresh statistics, or the planner takes the grown tables for tiny ones (demo_writer)
        await setup.execute("ANALYZE")
    finally:
        await setup.close()
    return CatalogReport(
        database=dsn.rsplit("/", 1)[-1], tenants=tenants, products=products, nodes=nodes,
        rows=rows, seconds=time.perf_counter() - started, tenant_slugs=[p.slug for p in plans])


def database_dsn(name: str) -> str:
    """The DSN of database `name` on the server of DATABASE_URL (or the local default)."""
    return with_database(os.environ.get("DATABASE_URL", DEFAULT_BASE), name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", required=True, help="database name (created if missing)")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--nodes", type=int, default=0)
    parser.add_argument("--tenants", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--connections", type=int, default=2,
                        help="parallel COPY connections (default 2)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench catalog",
                                     description=(__doc__ or "").split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    report = lifecycle.run(load_catalog(database_dsn(args.database), args.products, args.nodes,
                                      args.tenants, args.seed, args.connections))
    print(report.summary())


if __name__ == "__main__":
    main()
