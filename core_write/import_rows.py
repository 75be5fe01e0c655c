"""Bulk import rows: product lines as the rows of their tables, encoded as binary COPY data
(`core_write.copy_binary`), and `write_products`, which writes a chunk of them with one
statement per table in the caller's transaction (I/O: PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from core_write import copy_binary
from core_write.errors import Conflict, NotFound
from core_write.ids import new_ids, new_raw_ids
from core_write.import_lines import ProductLine, tag_slug
from core_write.import_refs import Refs
from core_write.queries import QUERIES


def id_stream() -> Iterator[uuid.UUID]:
    """Fresh ids, made 1,024 at a time."""
    while True:
        yield from new_ids(1024)


PRODUCT_COLUMNS = ("id", "tenant_id", "title", "subtitle", "handle", "description", "status",
                   "discountable", "metadata", "thumbnail", "published_at")
"""The columns of a product the import copies (the others get their defaults)."""
PART_COLUMNS: dict[str, tuple[str, ...]] = {
    "commerce_options": ("id", "tenant_id", "product_id", "title", "position"),
    "commerce_option_values": ("id", "tenant_id", "option_id", "value", "position"),
    "commerce_variants": ("id", "tenant_id", "product_id", "title", "sku", "barcode",
                          "manage_inventory", "allow_backorder", "weight", "length", "height",
                          "width", "position", "metadata"),
    "commerce_variant_options": ("tenant_id", "variant_id", "option_value_id"),
    "commerce_prices": ("id", "tenant_id", "variant_id", "currency_code", "amount",
                        "min_quantity"),
    "commerce_inventory_items": ("id", "tenant_id", "sku"),
    "commerce_variant_inventory": ("tenant_id", "variant_id", "inventory_item_id"),
    "commerce_inventory_levels": ("id", "tenant_id", "inventory_item_id", "location_id",
                                  "stocked_quantity"),
    "commerce_product_categories": ("tenant_id", "product_id", "category_id"),
}
"""The part tables of a product line in the order they are written (parents first), with the
columns the import sets (COPY fills the others with their defaults)."""


@dataclass
class PartRows:
    """A chunk's part rows as binary COPY data (`core_write.copy_binary`), per table of
    `PART_COLUMNS`, with what the writer checks and links besides."""

    data: dict[str, bytearray]
    """Each table's COPY data (header, rows, trailer)."""
    rows: dict[str, int]
    currencies: set[str]
    locations: set[uuid.UUID]
    """The stock locations the levels name (from `Refs`)."""
    categories: set[uuid.UUID]
    tags: list[tuple[uuid.UUID, uuid.UUID]]
    """(tag id, product id) links."""


def part_rows(tenant: uuid.UUID, product_ids: list[uuid.UUID], specs: list[ProductLine],
              refs: Refs) -> PartRows:
    """The part rows of product lines (pure but for the new ids): options and their values,
    variants with their option values, prices, inventory items with their levels, category
    links, encoded for a binary COPY into the `PART_COLUMNS`; the tag links as pairs. Each
    id is a new ULID's 16 bytes; the values a row repeats (the tenant, its product, variant,
    option, location, category) are encoded once."""
    cb = copy_binary
    u, r3, r5, r6, r14 = (cb.UUID_LEN, cb.row_start(3), cb.row_start(5), cb.row_start(6),
                          cb.row_start(14))
    int4, text, text_or_null = cb.int4, cb.text, cb.text_or_null
    tenant_field = cb.uuid_field(tenant.bytes)
    data = {table: bytearray(cb.HEADER) for table in PART_COLUMNS}
    options, values = data["commerce_options"], data["commerce_option_values"]
    variants, links = data["commerce_variants"], data["commerce_variant_options"]
    prices, items = data["commerce_prices"], data["commerce_inventory_items"]
    stocked, levels = data["commerce_variant_inventory"], data["commerce_inventory_levels"]
    cats = data["commerce_product_categories"]
    rows = dict.fromkeys(PART_COLUMNS, 0)
    new = _rawid_stream()
    currency_fields: dict[str, bytes] = {}
    location_fields: dict[str, bytes] = {}
    category_fields: dict[uuid.UUID, bytes] = {}
    locations: set[uuid.UUID] = set()
    tags: list[tuple[uuid.UUID, uuid.UUID]] = []
    n_options = n_values = n_variants = n_links = n_prices = n_items = n_levels = n_cats = 0
    for product_id, spec in zip(product_ids, specs, strict=True):
        product_field = cb.uuid_field(product_id.bytes)
        value_fields: dict[tuple[str, str], bytes] = {}
        for position, option in enumerate(spec.options):
            option_field = u + next(new)
            options += b"".join((r5, option_field, tenant_field, product_field,
                                 text(option.title), int4(option.position or position)))
            n_options += 1
            for value_position, value in enumerate(option.values):
                value_field = value_fields[option.title, value] = u + next(new)
                values += b"".join((r5, value_field, tenant_field, option_field, text(value),
                                    int4(value_position)))
            n_values += len(option.values)
        for position, variant in enumerate(spec.variants):
            variant_field = u + next(new)
            variants += b"".join((
                r14, variant_field, tenant_field, product_field,
                text(variant.title or " / ".join(variant.options.values()) or spec.title),
                text_or_null(variant.sku), text_or_null(variant.barcode),
                cb.boolean(variant.manage_inventory), cb.boolean(variant.allow_backorder),
                cb.int4_or_null(variant.weight), cb.int4_or_null(variant.length),
                cb.int4_or_null(variant.height), cb.int4_or_null(variant.width),
                int4(variant.position or position), cb.jsonb(variant.metadata)))
            n_variants += 1
            for title, value in variant.options.items():
                links += b"".join((r3, tenant_field, variant_field, value_fields[title, value]))
            n_links += len(variant.options)
            for price in variant.prices:
                code = price.currency_code
                currency = currency_fields.get(code)
                if currency is None:
                    currency = currency_fields[code] = text(code)
                prices += b"".join((r6, u, next(new), tenant_field, variant_field, currency,
                                    cb.int8(price.amount), int4(price.min_quantity)))
            n_prices += len(variant.prices)
            if variant.stock is not None:
                item_field = u + next(new)
                items += b"".join((r3, item_field, tenant_field, text_or_null(variant.sku)))
                stocked += b"".join((r3, tenant_field, variant_field, item_field))
                n_items += 1
                for location, quantity in variant.stock.items():
                    location_field = location_fields.get(location)
                    if location_field is None:
                        location_id = refs.locations[location]
                        locations.add(location_id)
                        location_field = location_fields[location] = cb.uuid_field(
                            location_id.bytes)
                    levels += b"".join((r5, u, next(new), tenant_field, item_field,
                                        location_field, int4(quantity)))
                n_levels += len(variant.stock)
        for category_id in dict.fromkeys(refs.categories[c.handle] for c in spec.categories):
            category_field = category_fields.get(category_id)
            if category_field is None:
                category_field = category_fields[category_id] = cb.uuid_field(
                    category_id.bytes)
            cats += b"".join((r3, tenant_field, product_field, category_field))
            n_cats += 1
        for tag in spec.tags:
            tags.append((refs.tags[tag_slug(tag)], product_id))
    counts = (n_options, n_values, n_variants, n_links, n_prices, n_items, n_items, n_levels,
              n_cats)
    for table, count in zip(PART_COLUMNS, counts, strict=True):
        rows[table] = count
        data[table] += cb.TRAILER
    return PartRows(data, rows, set(currency_fields), locations, set(category_fields), tags)


def product_rows(tenant: uuid.UUID, products: list[tuple[uuid.UUID, ProductLine]],
                 now: datetime) -> bytearray:
    """New products as binary COPY data into the `PRODUCT_COLUMNS` (pure); `now` is the
    transaction's timestamp, a published product's `published_at` (as the upsert sets it)."""
    cb = copy_binary
    start, tenant_field = cb.row_start(len(PRODUCT_COLUMNS)), cb.uuid_field(tenant.bytes)
    text, text_or_null = cb.text, cb.text_or_null
    published_at = cb.timestamptz(now)
    data = bytearray(cb.HEADER)
    for product_id, spec in products:
        data += b"".join((
            start, cb.uuid_field(product_id.bytes), tenant_field, text(spec.title),
            text_or_null(spec.subtitle), text(spec.handle), text_or_null(spec.description),
            text(spec.status), cb.boolean(spec.discountable), cb.jsonb(spec.metadata),
            text_or_null(spec.thumbnail),
            published_at if spec.status == "published" else cb.NULL))
    data += cb.TRAILER
    return data


def _rawid_stream() -> Iterator[bytes]:
    while True:
        yield from new_raw_ids(1024)


async def write_products(conn: asyncpg.Connection, tenant: uuid.UUID,
                         lines: list[tuple[int, ProductLine]], refs: Refs, *,
                         replica: bool = False) -> list[uuid.UUID]:
    """Write product lines with one statement per table (the caller's transaction): the
    products whose handle is new, their options and values, variants and their option values,
    prices, inventory items with levels and category links as one binary COPY each
    (`product_rows`, `part_rows`); the products whose handle exists (their parts deleted
    first) as one multi-row upsert, and the tag links as one multi-row INSERT. Returns the
    product ids in line order.

    With `replica` the products and parts are written under `session_replication_role =
    replica`: the per-row foreign key checks (a product's ~55, most of the import's database
    time) do not run. Every parent a row names is either a row of the same chunk (its product,
    option, value, variant or inventory item: ids this function made and wrote in this
    transaction, which no other transaction sees) or a row outside it (the tenant, the
    currencies, the stock locations and categories): those are key-share locked, as the
    per-row checks lock them, and checked to exist in the tenant (`import_parents_lock` for
    the tenant and currencies here, `_refs` found the categories and locations with
    `FOR KEY SHARE`, `import_parents_check` after the COPYs). The products' other triggers
    are the capture's (off in the import's transactions). The tag links keep their triggers
    (the tag counters' statement triggers, migration 0022, and the foreign key to the tag).
    Without `replica` the per-row checks run as usual."""
    handles = [line.handle for _, line in lines]
    existing = {r["handle"]: r["id"] for r in await conn.fetch(
        QUERIES["import_products_lock"], tenant, handles)}
    if existing:
        old = list(existing.values())
        for name in ("import_clear_items", "import_clear_variants", "import_clear_options",
                     "import_clear_categories", "import_clear_tags"):
            await conn.execute(QUERIES[name], tenant, old)
    new = id_stream()
    ids = [existing.get(h) or next(new) for h in handles]
    specs = [line for _, line in lines]
    parts = part_rows(tenant, ids, specs, refs)
    currencies = sorted(parts.currencies)
    parents = await conn.fetchrow(QUERIES["import_parents_lock"], tenant, currencies)
    if parents is None or parents["found"] != 1 + len(currencies):
        raise NotFound("referenced entity", "", "the tenant or a currency does not exist")
    if replica:
        await conn.execute(QUERIES["import_replica_on"])
    fresh = [(i, spec) for i, spec in zip(ids, specs, strict=True) if spec.handle not in existing]
    if fresh:
        await _copy(conn, "commerce_products", product_rows(tenant, fresh, parents["now"]),
                    PRODUCT_COLUMNS, len(fresh))
    if existing:
        kept = [spec for spec in specs if spec.handle in existing]
        rows = await conn.fetch(
            QUERIES["import_products_upsert"], tenant, [existing[s.handle] for s in kept],
            [s.title for s in kept], [s.subtitle for s in kept], [s.handle for s in kept],
            [s.description for s in kept], [s.status for s in kept],
            [s.discountable for s in kept], [s.metadata for s in kept],
            [s.thumbnail for s in kept])
        returned = {r["handle"]: r["id"] for r in rows}
        for spec in kept:
            if returned.get(spec.handle) != existing[spec.handle]:
                raise Conflict(f"product {spec.handle!r} was written meanwhile by another "
                               "writer; import the line again", field="handle")
    for table, count in parts.rows.items():
        if count:
            await _copy(conn, table, parts.data[table], PART_COLUMNS[table], count)
    if replica:
        await conn.execute(QUERIES["import_replica_off"])
        if not await conn.fetchval(QUERIES["import_parents_check"], tenant,
                                   list(parts.locations), list(parts.categories)):
            raise NotFound("referenced entity", "", "a part of a line references a row "
                           "that does not exist")
    if parts.tags:  # in tag order: the links' counter triggers lock the tags in one order
        pairs = sorted(parts.tags)
        await conn.execute(QUERIES["import_taggables_insert"], tenant, [p[0] for p in pairs],
                           "product", [p[1] for p in pairs])
    return ids


async def _copy(conn: asyncpg.Connection, table: str, data: bytearray, columns: tuple[str, ...],
                count: int) -> None:
    """Binary COPY data into `table`; `Conflict` unless it wrote `count` rows."""
    status = await conn.copy_to_table(table, source=data, columns=columns, format="binary")
    if status != f"COPY {count}":
        raise Conflict(f"{table}: {status}, not {count} rows", field="")
