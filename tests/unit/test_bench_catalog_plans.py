"""The bench catalog loader streams exactly the plans of `plan_demo` (pure)."""

from __future__ import annotations

from bench.catalog import UlidIds, stream_plans
from rustok_search.demo_data import plan_demo


def test_streamed_plans_equal_plan_demo() -> None:
    expected = plan_demo(50, 40, 3, 11)
    tenants, products, nodes = stream_plans(50, 40, 3, 11)
    streamed_products, streamed_nodes = list(products), list(nodes)
    assert [t.slug for t in tenants] == [t.slug for t in expected]
    assert [t.authors for t in tenants] == [t.authors for t in expected]
    for number, plan in enumerate(expected):
        assert [p for p in streamed_products if p.tenant == number] == plan.products
        assert [n for n in streamed_nodes if n.tenant == number] == plan.nodes


def test_ulid_ids_increase_and_carry_the_time() -> None:
    new_id = UlidIds()
    ids = [new_id() for _ in range(1000)]
    assert ids == sorted(ids) and len(set(ids)) == 1000
    assert ids[0].int >> 80 > 1_700_000_000_000
