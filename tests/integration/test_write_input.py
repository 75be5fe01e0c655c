"""Every bad write input gets a typed error from core_write and commits nothing: bad
characters, deep or oversized JSON, oversized text, ids of the wrong shape, unknown tenants,
currencies outside ISO 4217, price lists; hypothesis properties over random malformed and
oversized writes: refused and nothing committed, or accepted and indexed (real PostgreSQL,
Redis and the indexer's consumer)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core_write.errors import InvalidId, NotFound, RustokError, ValidationFailed
from core_write.ids import new_id
from core_write.services import catalog, content, orders, seo, taxonomy, tenants, users
from core_write.unit import CoreWrite
from core_write.validate import BODY_MAX_BYTES, DESCRIPTION_MAX_BYTES, JSON_MAX_DEPTH
from tests.builders import FAST_HASHER, make_node, make_product, make_tenant, make_variant
from tests.pipeline import Pipeline

TABLES = ("tenants", "users", "commerce_products", "commerce_variants", "commerce_prices",
          "nodes", "bodies", "tags", "categories", "meta", "commerce_orders")


async def fingerprint(pool: asyncpg.Pool) -> tuple[int, ...]:
    """The outbox position and the row count of every table a write below can touch."""
    counts = ", ".join(f"(SELECT count(*) FROM {table})" for table in TABLES)
    row = await pool.fetchrow(f"SELECT (SELECT coalesce(max(seq), 0) FROM outbox), {counts}")
    assert row is not None
    return tuple(row)


@pytest.fixture(autouse=True)
def _fast_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "hasher", FAST_HASHER)


@pytest.fixture
async def shop(core: CoreWrite) -> dict[str, Any]:
    tenant = await make_tenant(core)
    product = await make_product(core, tenant["id"])
    variant = await make_variant(core, tenant["id"], product["id"])
    node = await make_node(core, tenant["id"])
    return {"tenant": tenant, "product": product, "variant": variant, "node": node}


def nest(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"k": value}
    return value


async def refused(core: CoreWrite, pool: asyncpg.Pool, error: type[RustokError],
                  service: Callable[..., Awaitable[Any]], *args: Any) -> RustokError:
    """Run a write that must fail with `error` and check it committed nothing."""
    before = await fingerprint(pool)
    with pytest.raises(error) as info:
        await core.call(service, *args)
    assert await fingerprint(pool) == before
    return info.value


@pytest.mark.parametrize(("data", "field"), [
    ({"title": "nul\x00here"}, "title"),
    ({"title": "lone \ud800 surrogate"}, "title"),
    ({"description": "x\x00"}, "description"),
    ({"metadata": {"a": ["ok", "bad\x00"]}}, "metadata.a.1"),
    ({"metadata": {"key\ud83d": 1}}, "metadata.<key>"),
    ({"metadata": {"n": float("nan")}}, "metadata"),
    ({"metadata": nest(JSON_MAX_DEPTH + 1)}, "metadata"),
    ({"metadata": nest(1000)}, "metadata.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k"
                               ".k.k.k.k"),
    ({"metadata": {"big": "x" * 70_000}}, "metadata"),
    ({"description": "x" * (DESCRIPTION_MAX_BYTES + 1)}, "description"),
    ({"title": "x" * 256}, "title"),
])
async def test_bad_product_text_is_refused_naming_the_field(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], data: dict[str, Any], field: str
) -> None:
    tid = shop["tenant"]["id"]
    create = {"title": "ok", "handle": f"h-{uuid.uuid4().hex[:8]}", **data}
    error = await refused(core, pool, ValidationFailed, catalog.create_product, tid, create)
    assert isinstance(error, ValidationFailed) and error.field == field
    error = await refused(core, pool, ValidationFailed, catalog.update_product, tid,
                          shop["product"]["id"], data)
    assert isinstance(error, ValidationFailed) and error.field == field


async def test_bodies_nodes_meta_users_tags_and_tenants_refuse_bad_text(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    tid, nid = shop["tenant"]["id"], shop["node"]["id"]
    cases: list[tuple[Callable[..., Awaitable[Any]], tuple[Any, ...], str]] = [
        (content.set_body, (tid, nid, {"body": "a" * (BODY_MAX_BYTES + 1)}), "body"),
        (content.set_body, (tid, nid, {"body": "a\x00"}), "body"),
        (content.create_node, (tid, {"kind": "post", "title": "t", "excerpt": "\udc00"}),
         "excerpt"),
        (content.create_node, (tid, {"kind": "post", "title": "t",
                                     "body": {"body": "b\x00"}}), "body.body"),
        (seo.set_meta, (tid, "node", nid, {"structured_data": nest(JSON_MAX_DEPTH + 1)}),
         "structured_data"),
        (seo.set_meta, (tid, "node", nid, {"title": "\x00"}), "title"),
        (users.create_user, (tid, {"email": "a@b.example", "password": "pass\x00word!"}),
         "password"),
        (users.authenticate, (tid, "a\x00@b.example", "whatever"), "email"),
        (taxonomy.create_tag, (tid, {"name": "tag\ud800"}), "name"),
        (taxonomy.create_category, (tid, {"name": "c", "settings": {"x": [float("inf")]}}),
         "settings"),
        (tenants.create_tenant, ({"name": "n\x00", "slug": "fine"},), "name"),
        (tenants.create_tenant, ({"name": "n", "slug": "fine",
                                  "settings": {"deep": nest(JSON_MAX_DEPTH)}},), "settings"),
        (tenants.set_module, (tid, "content", True, {"x": "\x00"}), "settings.x"),
        (tenants.get_tenant_by_slug, ("sl\x00ug",), "slug"),
        (orders.place_order, (tid, {"currency_code": "USD", "items": [
            {"variant_id": shop["variant"]["id"], "quantity": 1}],
            "shipping_address": {"line": "\x00"}}), "shipping_address.line"),
    ]
    for service, args, field in cases:
        error = await refused(core, pool, ValidationFailed, service, *args)
        assert isinstance(error, ValidationFailed) and error.field == field, (service, error)


async def test_a_tenant_id_of_the_wrong_shape_is_an_invalid_id(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    slug = shop["tenant"]["slug"]
    for service, args in [
        (catalog.create_product, ({"title": "x", "handle": "x"},)),
        (taxonomy.create_tag, ({"name": "x"},)),
        (users.delete_user, (new_id(),)),
        (tenants.get_tenant, ()),
        (orders.get_order, (new_id(),)),
    ]:
        error = await refused(core, pool, InvalidId, service, slug, *args)
        assert isinstance(error, InvalidId) and error.field == "tenant_id"


async def test_an_unknown_tenant_is_not_found_whatever_the_module(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    ghost = new_id()
    for service, args in [
        (catalog.create_product, ({"title": "x", "handle": "x"},)),  # commerce module
        (content.create_node, ({"kind": "post", "title": "x"},)),  # content module
        (taxonomy.create_tag, ({"name": "x"},)),  # no module
        (tenants.set_module, ("content", True)),
    ]:
        error = await refused(core, pool, NotFound, service, ghost, *args)
        assert isinstance(error, NotFound) and error.entity == "tenant"


async def test_currencies_outside_iso_4217_and_price_lists_are_refused(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any]
) -> None:
    tid, vid = shop["tenant"]["id"], shop["variant"]["id"]
    for args, field in [(("ZZZ", 100), "currency_code"), (("XYZ", 100), "currency_code"),
                        (("EUR", 100, new_id()), "price_list_id")]:
        error = await refused(core, pool, ValidationFailed, catalog.set_price, tid, vid, *args)
        assert isinstance(error, ValidationFailed) and error.field == field
    error = await refused(core, pool, ValidationFailed, orders.place_order, tid, {
        "currency_code": "QQQ", "items": [{"variant_id": vid, "quantity": 1}]})
    assert isinstance(error, ValidationFailed) and error.field == "currency_code"
    await core.call(catalog.set_price, tid, vid, "JPY", 100)  # any ISO code is accepted


# ---- the property --------------------------------------------------------------------------
BAD_TEXT = ["\x00", "a\x00b", "\ud800", "x\udfff", "é" * 40_000, "w " * 140_000, "ZZZ"]
NASTY_TEXT = st.one_of(
    st.sampled_from(BAD_TEXT),
    st.sampled_from(["", " ", "ok-slug", "EUR", "01ARZ3NDEKTSV4RRFFQ69G5FAV"]),
    st.text(max_size=12),
    st.text(alphabet=st.characters(categories=["Cs", "Cc", "Lo"]), max_size=8),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | NASTY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NASTY_TEXT, inner, max_size=3),
    max_leaves=12,
) | st.integers(min_value=1, max_value=60).map(nest)
VALUE = NASTY_TEXT | JSON
TENANT = st.sampled_from(["mine"] * 6 + ["slug", "ghost", "garbage"])


def unique() -> str:
    return uuid.uuid4().hex[:10]


def writes(shop: dict[str, Any]) -> dict[str, tuple[Callable[..., Awaitable[Any]], Any]]:
    """op → (service, args after the tenant), each valid as it stands."""
    pid, vid, nid = shop["product"]["id"], shop["variant"]["id"], shop["node"]["id"]
    return {
        "create_product": (catalog.create_product, [{
            "title": "t", "handle": f"h-{unique()}", "description": "d", "subtitle": "s",
            "metadata": {"a": 1}}]),
        "update_product": (catalog.update_product, [pid, {"title": "t", "description": "d"}]),
        "set_price": (catalog.set_price, [vid, "EUR", 100]),
        "create_node": (content.create_node, [{
            "kind": "post", "title": "t", "excerpt": "e", "metadata": {},
            "body": {"body": "b"}}]),
        "set_body": (content.set_body, [nid, {"body": "b", "format": "plain"}]),
        "set_meta": (seo.set_meta, ["node", nid, {"title": "t", "structured_data": {}}]),
        "create_tag": (taxonomy.create_tag, [{"name": f"tag {unique()}"}]),
        "create_user": (users.create_user, [{
            "email": f"u{unique()}@example.com", "password": "long enough", "metadata": {}}]),
        "create_category": (taxonomy.create_category, [{
            "name": f"c {unique()}", "description": "d", "settings": {}}]),
        "set_module": (tenants.set_module, ["content", True, {"x": 1}]),
    }


def spoil(args: list[Any], index: int, key: int, value: Any) -> list[Any]:
    """`args` with one value replaced: a field of the argument at `index` if it is a mapping
    (one of its fields or a new one), else the argument itself."""
    out = list(args)
    position = index % len(out)
    if isinstance(out[position], dict):
        keys = [*out[position], "metadata", "unknown"]
        out[position] = {**out[position], keys[key % len(keys)]: value}
    else:
        out[position] = value
    return out


SPOILS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 9), VALUE), min_size=1,
                  max_size=3)
PROPERTY = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])


async def random_write(core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], op: str,
                       who: str, spoils: list[tuple[int, int, Any]], text: str) -> bool:
    """One spoiled write: True if accepted; a refusal must be typed and commit nothing."""
    tenant = {"mine": shop["tenant"]["id"], "slug": shop["tenant"]["slug"],
              "ghost": new_id(), "garbage": text}[who]
    service, args = writes(shop)[op]
    for index, key, value in spoils:
        args = spoil(args, index, key, value)
    before = await fingerprint(pool)
    try:
        await core.call(service, tenant, *args)
    except RustokError:
        assert await fingerprint(pool) == before  # refused, typed, and nothing committed
        return False
    return True


OPS = st.sampled_from(sorted(writes({"product": {"id": 0}, "variant": {"id": 0},
                                     "node": {"id": 0}})))


@PROPERTY
@given(op=OPS, who=TENANT, spoils=SPOILS, text=NASTY_TEXT)
async def test_random_malformed_writes_fail_typed_and_commit_nothing_or_succeed(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], op: str, who: str,
    spoils: list[tuple[int, int, Any]], text: str,
) -> None:
    await random_write(core, pool, shop, op, who, spoils, text)


EDGE = st.sampled_from([
    "é" * (DESCRIPTION_MAX_BYTES // 2), " ".join(f"d{i}" for i in range(9_000)),
    " ".join(f"w{i}x" for i in range(30_000)), "日本語 テキスト 🎉", nest(JSON_MAX_DEPTH),
    {"k": ["a" * 1000] * 30}, "x", 0, None,
])
"""Values at or near the limits that core_write accepts: the indexer must index them."""
EDGES = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 9), EDGE), max_size=2)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(op=OPS, spoils=EDGES, text=st.sampled_from(["plain", "é" * 100]))
async def test_accepted_edge_writes_are_indexed_and_never_stuck(
    core: CoreWrite, pool: asyncpg.Pool, shop: dict[str, Any], pipeline: Pipeline, op: str,
    spoils: list[tuple[int, int, Any]], text: str,
) -> None:
    """Whatever core_write accepts, the indexer indexes: no event retried or dead-lettered."""
    await random_write(core, pool, shop, op, "mine", spoils, text)
    await pipeline.settle()
    assert (pipeline.consumer.stats.retries, pipeline.consumer.stats.dead_lettered) == (0, 0)
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE indexed_at IS NULL") == 0
