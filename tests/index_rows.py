"""Rows of the index tables `index_products` / `index_content` as asyncpg returns them, for
the pure tests of the engine documents (overrides change single columns)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

TENANT = uuid.UUID("01890000-0000-7000-8000-000000000001")
CREATED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def product_row(**overrides: Any) -> dict[str, Any]:
    cat = uuid.uuid4()
    row: dict[str, Any] = {
        "product_id": uuid.uuid4(), "tenant_id": TENANT, "title": "  Red Running Shoe ",
        "subtitle": "Light and fast", "handle": "red-running-shoe",
        "description": "A shoe for running", "status": "published",
        "prices": {"EUR": {"min": 1999, "max": 2499}, "XTS": {"min": 1, "max": 2}},
        "currencies": ["EUR", "XTS"], "total_stock": 7, "has_stock": True,
        "categories": [{"id": str(cat), "name": "Shoes", "handle": "shoes"}],
        "category_ids": [cat], "tags": ["sale", "running"], "tag_ids": [uuid.uuid4()],
        "meta_title": None, "meta_description": "Buy it", "search_vector": None,
        "created_at": CREATED, "published_at": None, "version": 3, "position": 10,
        "indexed_at": CREATED,
    }
    row.update(overrides)
    return row


def content_row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "node_id": uuid.uuid4(), "tenant_id": TENANT, "kind": "post", "title": "Hello World",
        "slug": "hello-world", "excerpt": "First post", "body_preview": "Lorem ipsum",
        "status": "published", "author_id": uuid.uuid4(), "author_name": "Ada",
        "category_id": None, "category_name": None, "category_slug": None,
        "tags": ["news"], "tag_ids": [uuid.uuid4()], "parent_id": None, "reply_count": 2,
        "meta_title": None, "meta_description": None, "search_vector": None,
        "published_at": datetime(2024, 5, 2, 14, 0, tzinfo=timezone(timedelta(hours=2))),
        "created_at": CREATED, "version": 1, "position": 1, "indexed_at": CREATED,
    }
    row.update(overrides)
    return row
