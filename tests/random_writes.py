"""Random but valid write traffic over a demo catalog, through core_write: prices, stock,
renames of products, categories and tags, tag links, node edits, publishes, creates and
deletes. Used by the convergence tests."""

from __future__ import annotations

import random
import uuid
from typing import Any

import asyncpg

from core_write.errors import RustokError
from core_write.services import (
    catalog,
    commerce_categories,
    content,
    inventory,
    taxonomy,
)
from core_write.unit import CoreWrite


class RandomWriter:
    def __init__(self, core: CoreWrite, pool: asyncpg.Pool, rng: random.Random) -> None:
        self.core, self.pool, self.rng = core, pool, rng
        self.writes = 0
        self.refused = 0

    async def _pick(self, sql: str) -> dict[str, Any] | None:
        rows = await self.pool.fetch(sql + " ORDER BY random() LIMIT 1")
        return dict(rows[0]) if rows else None

    async def step(self) -> None:
        op = self.rng.choice(self.OPS)
        try:
            await op(self)
            self.writes += 1
        except RustokError:
            self.refused += 1  # e.g. a row another writer just deleted

    async def price(self) -> None:
        row = await self._pick("SELECT tenant_id, id FROM commerce_variants")
        if row:
            await self.core.call(catalog.set_price, row["tenant_id"], row["id"],
                                 self.rng.choice(("EUR", "USD")), self.rng.randint(100, 99999))

    async def stock(self) -> None:
        row = await self._pick("SELECT tenant_id, inventory_item_id, location_id "
                               "FROM commerce_inventory_levels")
        if row:
            await self.core.call(inventory.set_stock_level, row["tenant_id"],
                                 row["inventory_item_id"], row["location_id"],
                                 self.rng.choice((0, 1, 5, 50)))

    async def rename_product(self) -> None:
        row = await self._pick("SELECT tenant_id, id FROM commerce_products")
        if row:
            await self.core.call(catalog.update_product, row["tenant_id"], row["id"],
                                 {"title": f"Renamed {self.rng.randint(0, 10**6)}"})

    async def publish_toggle(self) -> None:
        row = await self._pick("SELECT tenant_id, id, status FROM commerce_products")
        if row:
            if row["status"] == "published":
                await self.core.call(catalog.unpublish_product, row["tenant_id"], row["id"])
            else:
                await self.core.call(catalog.publish_product, row["tenant_id"], row["id"])

    async def rename_category(self) -> None:
        row = await self._pick("SELECT tenant_id, id FROM commerce_categories")
        if row:
            await self.core.call(commerce_categories.update_category, row["tenant_id"],
                                 row["id"], {"name": f"Cat {self.rng.randint(0, 10**6)}"})

    async def rename_tag(self) -> None:
        row = await self._pick("SELECT tenant_id, id FROM tags")
        if row:
            await self.core.call(taxonomy.update_tag, row["tenant_id"], row["id"],
                                 {"name": f"tag {self.rng.randint(0, 10**6)}"})

    async def toggle_tag(self) -> None:
        tag = await self._pick("SELECT tenant_id, id FROM tags")
        if not tag:
            return
        target = await self.pool.fetchrow(
            "SELECT id FROM commerce_products WHERE tenant_id = $1 ORDER BY random() LIMIT 1",
            tag["tenant_id"])
        if target is None:
            return
        linked = await self.pool.fetchval(
            "SELECT 1 FROM taggables WHERE tag_id = $1 AND target_id = $2", tag["id"],
            target["id"])
        service = taxonomy.detach_tag if linked else taxonomy.attach_tag
        await self.core.call(service, tag["tenant_id"], tag["id"], "product", target["id"])

    async def edit_node(self) -> None:
        row = await self._pick("SELECT tenant_id, id FROM nodes")
        if row:
            await self.core.call(content.set_body, row["tenant_id"], row["id"],
                                 {"body": f"Edited {self.rng.randint(0, 10**6)}"})

    async def create_product(self) -> None:
        tenant = await self._pick("SELECT id FROM tenants")
        if tenant:
            suffix = uuid.uuid4().hex[:10]
            await self.core.call(catalog.create_product, tenant["id"], {
                "title": f"New {suffix}", "handle": f"new-{suffix}", "status": "published"})

    async def delete_product(self) -> None:
        row = await self._pick("SELECT tenant_id, id FROM commerce_products")
        if row:
            await self.core.call(catalog.delete_product, row["tenant_id"], row["id"])

    async def delete_node(self) -> None:
        row = await self._pick("SELECT tenant_id, id FROM nodes WHERE kind = 'comment'")
        if row:
            await self.core.call(content.delete_node, row["tenant_id"], row["id"])

    OPS = (price, price, stock, stock, rename_product, publish_toggle, rename_category,
           rename_tag, toggle_tag, toggle_tag, edit_node, edit_node, create_product,
           delete_product, delete_node)


class SqlWriter(RandomWriter):
    """The same kind of traffic in plain SQL, as a writer outside core_write would make it:
    only the capture triggers (migration 0013) tell the indexer."""

    async def _sql(self, sql: str, *args: Any) -> None:
        try:
            await self.pool.execute(sql, *args)
        except asyncpg.DeadlockDetectedError:
            self.refused += 1  # a multi-row UPDATE against a core_write unit: one is aborted

    async def sql_price(self) -> None:
        await self._sql("UPDATE commerce_prices SET amount = $1 WHERE id = (SELECT id FROM "
                        "commerce_prices ORDER BY random() LIMIT 1)", self.rng.randint(100, 99999))

    async def sql_stock(self) -> None:
        await self._sql("UPDATE commerce_inventory_levels SET stocked_quantity = $1 WHERE id = "
                        "(SELECT id FROM commerce_inventory_levels ORDER BY random() LIMIT 1)",
                        self.rng.choice((0, 1, 5, 50)))

    async def sql_rename_products(self) -> None:
        # a multi-row UPDATE: every product of a tenant whose title ends with a given digit
        await self._sql("UPDATE commerce_products SET title = $1 || ' ' || left(id::text, 4) "
                        "WHERE tenant_id = (SELECT id FROM tenants ORDER BY random() LIMIT 1) "
                        "AND right(id::text, 1) = $2",
                        f"Bulk {self.rng.randint(0, 10**6)}", self.rng.choice("0123456789abcdef"))

    async def sql_rename_category(self) -> None:
        await self._sql("UPDATE commerce_categories SET name = $1 WHERE id = (SELECT id FROM "
                        "commerce_categories ORDER BY random() LIMIT 1)",
                        f"SQL cat {self.rng.randint(0, 10**6)}")

    async def sql_rename_tag(self) -> None:
        await self._sql("UPDATE tags SET name = $1 WHERE id = (SELECT id FROM tags "
                        "ORDER BY random() LIMIT 1)", f"sql tag {self.rng.randint(0, 10**6)}")

    async def sql_edit_body(self) -> None:
        await self._sql("UPDATE bodies SET body = $1 WHERE node_id = (SELECT node_id FROM bodies "
                        "ORDER BY random() LIMIT 1)", f"SQL edit {self.rng.randint(0, 10**6)}")

    async def sql_delete_product(self) -> None:
        await self._sql("DELETE FROM commerce_products WHERE id = (SELECT id FROM "
                        "commerce_products ORDER BY random() LIMIT 1)")

    OPS = (sql_price, sql_stock, sql_stock, sql_rename_products, sql_rename_category,
           sql_rename_tag, sql_edit_body, sql_edit_body, sql_delete_product)
