"""Rows changed outside core_write map to the documents the domain events of the same change
name (pure)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from core_write.events import EventEnvelope, RowChanged
from indexer.fanout import (
    Docs,
    Lookup,
    bounded_groups,
    plan_batch,
    planned_size,
    row_targets,
)

A, B = uuid.uuid4(), uuid.uuid4()


def test_each_table_kind_leads_to_its_documents() -> None:
    assert row_targets(RowChanged(table="commerce_prices", op="update", keys=[A],
                                  changed=["amount"])) == [Lookup("products_of_variants", (A,))]
    assert row_targets(RowChanged(table="commerce_categories", op="update", keys=[A],
                                  changed=["name"])) == [Lookup("products_in_categories", (A,))]
    assert row_targets(RowChanged(table="tags", op="delete", keys=[A])) == [
        Lookup("tagged_products", (A,)), Lookup("tagged_content", (A,))]
    assert row_targets(RowChanged(table="nodes", op="insert", keys=[A, B])) == [
        Docs("content", (A, B)), Lookup("content_parents", (A, B))]
    assert row_targets(RowChanged(table="taggables", op="insert", kind="product",
                                  keys=[A])) == [Docs("product", (A,))]
    assert row_targets(RowChanged(table="meta", op="delete", kind="category", keys=[A])) == []


def test_an_update_of_columns_no_document_reads_changes_nothing() -> None:
    assert row_targets(RowChanged(table="users", op="update", keys=[A],
                                  changed=["password_hash"])) == []
    assert row_targets(RowChanged(table="users", op="update", keys=[A],
                                  changed=["display_name", "role"])) == [
        Lookup("author_content", (A,))]
    assert row_targets(RowChanged(table="commerce_products", op="update", keys=[A],
                                  changed=["metadata"])) == []


def test_truncate_rebuilds_the_tenant_documents_the_table_feeds() -> None:
    assert row_targets(RowChanged(table="commerce_prices", op="truncate")) == [
        Lookup("tenant_products", ())]
    assert row_targets(RowChanged(table="bodies", op="truncate")) == [
        Lookup("tenant_content", ())]
    assert row_targets(RowChanged(table="tags", op="truncate")) == [
        Lookup("tenant_products", ()), Lookup("tenant_content", ())]


def test_a_captured_envelope_decodes_and_joins_the_batch_plan() -> None:
    tenant = uuid.uuid4()
    raw = json.dumps({
        "id": str(uuid.uuid4()), "tenant_id": str(tenant),
        "timestamp": "2026-11-27T10:30:01.5+00:00",
        "event": {"type": "RowChanged", "table": "commerce_products", "op": "update",
                  "kind": None, "keys": [str(A), str(B)], "changed": ["title"]}})
    envelope = EventEnvelope.from_json(raw)
    assert envelope.timestamp == datetime(2026, 11, 27, 10, 30, 1, 500000, tzinfo=UTC)
    plan = plan_batch([envelope])
    assert set(plan.docs[(tenant, "product")]) == {A, B}


def test_a_storm_is_indexed_in_bounded_parts() -> None:
    storm = RowChanged(table="commerce_products", op="insert", keys=[uuid.uuid4()
                                                                       for _ in range(500)])
    assert planned_size(storm) == 500
    assert planned_size(RowChanged(table="tags", op="delete", keys=[A])) == 2
    assert planned_size(RowChanged(table="users", op="update", keys=[A],
                                   changed=["role"])) == 1
    assert bounded_groups([500, 500, 500, 1, 1], 1000) == [slice(0, 2), slice(2, 5)]
    assert bounded_groups([1] * 5, 2) == [slice(0, 2), slice(2, 4), slice(4, 5)]
    assert bounded_groups([3000, 1], 1000) == [slice(0, 1), slice(1, 2)]
    assert bounded_groups([], 1000) == []
