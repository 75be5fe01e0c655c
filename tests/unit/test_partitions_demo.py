from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core_write.migrations import MigrationError, discover
from core_write.partitions import Quarter, quarters_from
from rustok_search.demo_data import plan_demo, vocabulary


def test_quarters_roll_over_the_year() -> None:
    quarters = quarters_from(date(2026, 11, 26), 2)
    assert [q.table for q in quarters] == [
        "commerce_orders_2026_q4", "commerce_orders_2027_q1", "commerce_orders_2027_q2"]
    assert Quarter(2026, 4).start == date(2026, 10, 1)
    assert Quarter(2026, 4).end == date(2027, 1, 1)


def test_demo_plans_are_deterministic_and_sized() -> None:
    first = plan_demo(products=60, nodes=30, tenants=3, seed=7)
    assert first == plan_demo(products=60, nodes=30, tenants=3, seed=7)
    assert first != plan_demo(products=60, nodes=30, tenants=3, seed=8)
    assert sum(len(t.products) for t in first) == 60
    assert sum(len(t.nodes) for t in first) == 30
    words = set(vocabulary())
    for tenant in first:
        for product in tenant.products:
            assert 1 <= len(product.variants) <= 5
            assert all(1 <= len(v.prices) <= 3 for v in product.variants)
            assert {w.lower() for w in product.title.split()} <= words
        for node in tenant.nodes:
            if node.kind == "comment":
                assert node.parent is not None and node.parent < node.index
    assert any(p.status == "draft" for t in first for p in t.products)
    # the bounds above are reached, not just respected: every count in them occurs
    assert {len(p.variants) for t in first for p in t.products} == {1, 2, 3, 4, 5}
    assert {len(v.prices) for t in first for p in t.products for v in p.variants} == {1, 2, 3}


def test_migration_files_must_be_numbered(tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("SELECT 1;")
    assert [m.name for m in discover(tmp_path)] == ["0001_ok.sql"]
    (tmp_path / "0001_again.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="used twice"):
        discover(tmp_path)
    (tmp_path / "0001_again.sql").unlink()
    (tmp_path / "oops.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_description"):
        discover(tmp_path)
