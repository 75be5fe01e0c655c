"""Writes the demo plans of `rustok_search.demo_data` through the entity services, one unit of
work per product or node, with a few writers in parallel (I/O: PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg

from core_write.errors import Conflict
from core_write.services import (
    catalog,
    commerce_categories,
    content,
    inventory,
    seo,
    taxonomy,
    tenants,
    users,
)
from core_write.unit import CoreWrite, Unit
from core_write.validate import slugify
from rustok_search.demo_data import (
    CATEGORY_TREE,
    CONTENT_CATEGORIES,
    TAGS,
    NodePlan,
    ProductPlan,
    TenantPlan,
    plan_demo,
)

T = TypeVar("T")
DEMO_PASSWORD = "demo-password-1"


@dataclass(frozen=True)
class DemoSpec:
    products: int = 2000
    nodes: int = 1000
    tenants: int = 3
    seed: int = 42
    concurrency: int = 4


@dataclass
class TenantIds:
    tenant: uuid.UUID
    authors: list[uuid.UUID] = field(default_factory=list)
    locations: list[uuid.UUID] = field(default_factory=list)
    commerce_categories: dict[str, uuid.UUID] = field(default_factory=dict)
    content_categories: dict[str, uuid.UUID] = field(default_factory=dict)
    tags: dict[str, uuid.UUID] = field(default_factory=dict)
    nodes: dict[int, uuid.UUID] = field(default_factory=dict)


@dataclass
class DemoReport:
    tenants: int
    products: int
    nodes: int
    events: int
    seconds: float
    tenant_slugs: list[str]

    def summary(self) -> str:
        rate = self.events / self.seconds if self.seconds else 0.0
        return (f"demo data: {self.tenants} tenants ({', '.join(self.tenant_slugs)}), "
                f"{self.products} products, {self.nodes} nodes, {self.events} events "
                f"in {self.seconds:.1f} s ({rate:,.0f} events/s)")


async def _setup_tenant(unit: Unit, plan: TenantPlan) -> TenantIds:
    tenant = await tenants.create_tenant(unit, {
        "name": plan.name, "slug": plan.slug, "settings": {"language": plan.language}})
    ids = TenantIds(tenant["id"])
    for email, name in plan.authors:
        user = await users.create_user(unit, ids.tenant, {
            "email": email, "password": DEMO_PASSWORD, "display_name": name, "role": "author"})
        ids.authors.append(user["id"])
    for name in plan.locations:
        location = await inventory.create_stock_location(unit, ids.tenant, {"name": name})
        ids.locations.append(location["id"])
    for parent, children in CATEGORY_TREE.items():
        top = await commerce_categories.create_category(
            unit, ids.tenant, {"name": parent, "handle": slugify(parent)})
        for child in children:
            row = await commerce_categories.create_category(unit, ids.tenant, {
                "name": child, "handle": slugify(child), "parent_id": top["id"]})
            ids.commerce_categories[slugify(child)] = row["id"]
    for parent, children in CONTENT_CATEGORIES.items():
        top = await taxonomy.create_category(unit, ids.tenant, {"name": parent})
        for child in children:
            row = await taxonomy.create_category(unit, ids.tenant, {
                "name": child, "slug": slugify(child), "parent_id": top["id"]})
            ids.content_categories[slugify(child)] = row["id"]
    for tag in TAGS:
        row = await taxonomy.create_tag(unit, ids.tenant, {"name": tag})
        ids.tags[tag] = row["id"]
    return ids


async def _write_product(unit: Unit, ids: TenantIds, plan: ProductPlan) -> None:
    tenant = ids.tenant
    product = await catalog.create_product(unit, tenant, {
        "title": plan.title, "subtitle": plan.subtitle, "handle": plan.handle,
        "thumbnail": plan.thumbnail,
        "description": plan.description, "status": plan.status})
    values = sorted({v for variant in plan.variants for v in variant.option_values})
    await catalog.create_option(unit, tenant, product["id"],
                                {"title": plan.option_title, "values": values})
    value_ids = {
        row["value"]: row["id"] for row in await unit.conn.fetch(
            """SELECT v.value, v.id FROM commerce_option_values v
               JOIN commerce_options o ON o.id = v.option_id WHERE o.product_id = $1""",
            product["id"])
    }
    for position, plan_variant in enumerate(plan.variants):
        variant = await catalog.create_variant(unit, tenant, product["id"], {
            "title": plan_variant.title, "sku": plan_variant.sku, "position": position,
            "manage_inventory": plan_variant.manage_inventory,
            "allow_backorder": plan_variant.allow_backorder,
            "option_value_ids": [value_ids[v] for v in plan_variant.option_values]})
        for currency, amount in plan_variant.prices.items():
            await catalog.set_price(unit, tenant, variant["id"], currency, amount)
        item = await inventory.create_inventory_item(unit, tenant, {"sku": plan_variant.sku})
        await inventory.link_variant_inventory(unit, tenant, variant["id"], item["id"])
        for location, quantity in zip(ids.locations, plan_variant.stock, strict=False):
            await inventory.set_stock_level(unit, tenant, item["id"], location, quantity)
    for handle in plan.categories:
        await commerce_categories.link_product_category(
            unit, tenant, product["id"], ids.commerce_categories[handle])
    for tag in sorted(plan.tags):  # one lock order for the tags' use_count rows
        await taxonomy.attach_tag(unit, tenant, ids.tags[tag], "product", product["id"])
    if plan.meta_title:
        await seo.set_meta(unit, tenant, "product", product["id"],
                           {"title": plan.meta_title, "description": plan.subtitle})


async def _write_node(unit: Unit, ids: TenantIds, plan: NodePlan) -> None:
    node = await content.create_node(unit, ids.tenant, {
        "kind": plan.kind, "title": plan.title, "slug": plan.slug, "excerpt": plan.excerpt,
        "status": plan.status, "author_id": ids.authors[plan.author],
        "parent_id": ids.nodes[plan.parent] if plan.parent is not None else None,
        "category_id": ids.content_categories[plan.category] if plan.category else None,
        "body": {"body": plan.body}})
    ids.nodes[plan.index] = node["id"]
    for tag in sorted(plan.tags):
        await taxonomy.attach_tag(unit, ids.tenant, ids.tags[tag], "node", node["id"])
    if plan.meta_title:
        await seo.set_meta(unit, ids.tenant, "node", node["id"], {"title": plan.meta_title})


async def _run_parallel(jobs: Iterable[Callable[[], Awaitable[None]]], workers: int) -> None:
    queue: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def worker() -> None:
        while not queue.empty():
            await queue.get_nowait()()

    await asyncio.gather(*(worker() for _ in range(workers)))


async def load_demo(pool: asyncpg.Pool, spec: DemoSpec) -> DemoReport:
    """Write the demo plans for `spec`; refuses (Conflict) if the demo tenants exist."""
    core = CoreWrite(pool)
    plans = plan_demo(spec.products, spec.nodes, spec.tenants, spec.seed)
    taken = await pool.fetch("SELECT slug FROM tenants WHERE slug = ANY($1::text[])",
                             [plan.slug for plan in plans])
    if taken:
        raise Conflict(f"demo tenants already exist ({', '.join(r['slug'] for r in taken)}): "
                       "load demo data into an empty database", field="slug")
    started = time.perf_counter()
    events_before = await pool.fetchval("SELECT COALESCE(max(seq), 0) FROM outbox")
    all_ids: list[TenantIds] = []
    for plan in plans:
        all_ids.append((await core.call(_setup_tenant, plan)).value)

    def product_job(ids: TenantIds, plan: ProductPlan) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            await core.call(_write_product, ids, plan)
        return job

    async def content_of(ids: TenantIds, plan: TenantPlan) -> None:
        # comments point at earlier nodes of their tenant: one writer per tenant keeps order
        for node in plan.nodes:
            await core.call(_write_node, ids, node)

    product_jobs = [product_job(ids, product)
                    for ids, plan in zip(all_ids, plans, strict=True) for product in plan.products]
    await asyncio.gather(
        _run_parallel(product_jobs, max(1, spec.concurrency - 1)),
        *(content_of(ids, plan) for ids, plan in zip(all_ids, plans, strict=True)),
    )
    events = await pool.fetchval("SELECT count(*) FROM outbox WHERE seq > $1", events_before)
    # a bulk load outruns autovacuum's statistics: without them the planner took the grown
    # price table for a tiny one and the document builders seq-scanned it per product
    await pool.execute("ANALYZE")
    return DemoReport(
        tenants=len(plans), products=spec.products, nodes=spec.nodes,
        events=int(events), seconds=time.perf_counter() - started,
        tenant_slugs=[plan.slug for plan in plans],
    )
