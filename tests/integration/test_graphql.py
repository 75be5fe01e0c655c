"""GraphQL at /graphql over plain HTTP: the auth matrix, typed error codes, limits, GET for
queries, the schema checked against the REST query model, federation and the SDL snapshot
(canned search backend: routing, auth and errors only)."""

from __future__ import annotations

import re
from pathlib import Path

from core_write.unit import CoreWrite
from search_api.filters import ContentFilter, ProductFilter
from search_api.graphql.reads import ProductFilterInput
from search_api.graphql.schema import build_schema, sdl
from search_api.model import SearchQuery
from search_api.wiring import RESOURCES
from tests.api_fixtures import Api, api_fixture  # noqa: F401 - the fixture
from tests.builders import make_product, make_tenant
from tests.graphql_client import codes, data, gql

SNAPSHOT = Path(__file__).resolve().parent.parent / "snapshots" / "schema.graphql"
CREATE = """mutation($input: ProductCreateInput!) {
  createProduct(input: $input) { product { id title handle status } consistencyToken } }"""
UPDATE = """mutation($id: ID!, $input: ProductUpdateInput!) {
  updateProduct(id: $id, input: $input) { product { id title } consistencyToken } }"""
SEARCH = "query($q: String) { searchProducts(q: $q) { total hits { id document } stale } }"


def test_the_sdl_matches_the_committed_snapshot() -> None:
    """A schema change must be deliberate: regenerate the snapshot with
    `python -c 'from search_api.graphql.schema import sdl; print(sdl(), end="")'
    > tests/snapshots/schema.graphql` and review the diff."""
    assert sdl() == SNAPSHOT.read_text()


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def test_search_arguments_are_the_rest_query_model() -> None:
    schema = build_schema()._schema
    for field in ("searchProducts", "searchContent"):
        args = {_snake(a) for a in schema.query_type.fields[field].args}  # type: ignore[union-attr]
        assert args - {"min_token"} <= set(SearchQuery.model_fields), field
    gql_filter = {_snake(f) for f in schema.type_map["ProductFilterInput"].fields}  # type: ignore[union-attr]
    assert gql_filter == set(ProductFilter.model_fields)
    content = {_snake(f) for f in schema.type_map["ContentFilterInput"].fields}  # type: ignore[union-attr]
    assert content == set(ContentFilter.model_fields)
    assert ProductFilterInput.__name__ == "ProductFilterInput"


async def test_a_key_is_required_and_auth_is_the_same_as_rest(api: Api) -> None:
    resp = await api.client.post("/graphql", json={"query": "{ tags { name } }"})
    assert resp.status == 401 and resp.content_type == "application/problem+json"
    resp = await api.client.post("/graphql", json={"query": "{ tags { name } }"},
                                 headers={"Authorization": "Bearer rsk_unknown"})
    assert resp.status == 401
    body = await gql(api.client, api.keys["a.search"], CREATE,
                     {"input": {"title": "Boots", "handle": "boots"}})
    assert codes(body) == [("FORBIDDEN", None)] and body["data"] is None
    body = await gql(api.client, api.keys["operator"], SEARCH, {"q": "x"})
    assert codes(body) == [("FORBIDDEN", None)]
    body = await gql(api.client, api.keys["a.admin"],
                     'mutation { createTenant(input: {name: "X", slug: "x"}) { id } }')
    assert codes(body) == [("FORBIDDEN", None)]
    for who in ("a.search", "a.admin"):
        found = data(await gql(api.client, api.keys[who], SEARCH, {"q": "boots"}))
        assert found["searchProducts"]["total"] == 1
        assert api.backend.calls[-1][1].tenant_id == api.tenants["a"]["id"]
        assert api.backend.calls[-1][1].include_drafts is (who == "a.admin")
    # the tenant comes from the key: b's product is not found through a's admin key
    other = await make_product(CoreWrite(api.client.app[RESOURCES].pool),
                               api.tenants["b"]["id"])
    body = await gql(api.client, api.keys["a.admin"], UPDATE,
                     {"id": str(other["id"]), "input": {"title": "Mine now"}})
    assert codes(body) == [("NOT_FOUND", None)]


async def test_mutations_return_the_written_object_and_a_token(api: Api) -> None:
    admin = api.keys["a.admin"]
    created = data(await gql(api.client, admin, CREATE, {
        "input": {"title": "Trail boots", "handle": "trail-boots", "status": "published"}}))
    product = created["createProduct"]["product"]
    assert product["title"] == "Trail boots" and product["status"] == "published"
    first_token = created["createProduct"]["consistencyToken"]
    assert first_token >= 1
    updated = data(await gql(api.client, admin, UPDATE, {
        "id": product["id"], "input": {"title": "Trail boots II"}}))
    assert updated["updateProduct"]["product"] == {"id": product["id"],
                                                   "title": "Trail boots II"}
    assert updated["updateProduct"]["consistencyToken"] > first_token
    row = await api.client.app[RESOURCES].pool.fetchrow(
        "SELECT title, handle, status FROM commerce_products WHERE id = $1::uuid",
        product["id"])
    assert dict(row) == {"title": "Trail boots II", "handle": "trail-boots",
                         "status": "published"}  # only what was given changed


async def test_typed_errors_name_their_code_and_field(api: Api) -> None:
    admin = api.keys["a.admin"]
    body = await gql(api.client, admin, CREATE, {"input": {"title": "X", "handle": "Bad Handle"}})
    assert codes(body) == [("VALIDATION", "input.handle")]
    await gql(api.client, admin, CREATE, {"input": {"title": "X", "handle": "dup"}})
    body = await gql(api.client, admin, CREATE, {"input": {"title": "Y", "handle": "dup"}})
    assert codes(body)[0][0] == "CONFLICT"
    body = await gql(api.client, admin, UPDATE, {
        "id": "00000000-0000-0000-0000-000000000009", "input": {"title": "Z"}})
    assert codes(body) == [("NOT_FOUND", None)]
    body = await gql(api.client, admin, UPDATE, {"id": "not-an-id", "input": {"title": "Z"}})
    assert codes(body)[0] == ("VALIDATION", "product_id")
    body = await gql(api.client, api.keys["a.search"],
                     "{ searchProducts(perPage: 1000) { total } }")
    assert codes(body) == [("VALIDATION", "per_page")]
    body = await gql(api.client, api.keys["a.search"],
                     '{ searchProducts(filter: {status: ["draft"]}) { total } }')
    assert codes(body) == [("FORBIDDEN", "filter.status")]
    body = await gql(api.client, api.keys["a.admin"],
                     '{ searchProducts(filter: {price: {currency: "eur"}}) { total } }')
    assert codes(body)[0] == ("VALIDATION", "filter.price.currency")
    # a module the tenant switched off
    core = CoreWrite(api.client.app[RESOURCES].pool)
    shop = await make_tenant(core, modules=("content",))
    from search_api.auth import create_key
    key, _ = await create_key(core.pool, shop["slug"], "admin")
    body = await gql(api.client, key, CREATE, {"input": {"title": "X", "handle": "x"}})
    assert codes(body) == [("MODULE_DISABLED", None)]
    # nothing internal leaks: the canned backend raising an unexpected error
    api.backend.fail = RuntimeError("secret connection string")
    body = await gql(api.client, api.keys["a.search"], SEARCH)
    assert codes(body) == [("INTERNAL", None)]
    assert "secret" not in str(body)


async def test_limits_and_get_for_queries(api: Api) -> None:
    key = api.keys["a.search"]
    body = await gql(api.client, key, SEARCH, {"q": "boots"}, method="GET")
    assert data(body)["searchProducts"]["total"] == 1
    resp = await api.client.get("/graphql", params={"query": "mutation { publishNode(id: \"x\")"
                                                             " { consistencyToken } }"},
                                headers=api.auth("a.admin"))
    assert resp.status in (400, 405) and resp.content_type == "application/problem+json"
    assert "GET" in (await resp.json())["detail"]
    aliases = "{ " + " ".join(f"a{i}: tags {{ name }}" for i in range(30)) + " }"
    body = await gql(api.client, key, aliases)
    assert codes(body)[0][0] == "GRAPHQL_VALIDATION"
    assert "aliases" in body["errors"][0]["message"].lower()
    body = await gql(api.client, key, "{" + "a{b}" * 900 + "}")  # > MAX_TOKENS
    assert codes(body)[0][0] == "GRAPHQL_VALIDATION"
    body = await gql(api.client, key, "{ product(handle: \"x\") { id } }")
    assert data(body) == {"product": None}
    body = await gql(api.client, key, "{ nope }")
    assert codes(body)[0][0] == "GRAPHQL_VALIDATION"


async def test_federation_service_and_entities(api: Api) -> None:
    key = api.keys["a.search"]
    service = data(await gql(api.client, key, "{ _service { sdl } }"))["_service"]["sdl"]
    assert 'type Product @key(fields: "id")' in service
    assert 'type Node @key(fields: "id")' in service
    pool = api.client.app[RESOURCES].pool
    tenant = api.tenants["a"]["id"]
    await pool.execute(
        """INSERT INTO index_products (product_id, tenant_id, title, handle, status, created_at,
                                       version, tags, categories)
           VALUES ('00000000-0000-0000-0000-0000000000a1', $1, 'Boots', 'boots', 'published',
                   now(), 1, '{sale}', '[{"id": "c1", "name": "Shoes", "handle": "shoes"}]'),
                  ('00000000-0000-0000-0000-0000000000a2', $1, 'Draft', 'draft', 'draft',
                   now(), 1, '{}', '[]')""", tenant)
    await pool.execute(
        """INSERT INTO index_content (node_id, tenant_id, kind, title, slug, status, created_at,
                                      version, tags)
           VALUES ('00000000-0000-0000-0000-0000000000b1', $1, 'post', 'Hello', 'hello',
                   'published', now(), 1, '{sale}')""", tenant)
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on Product { id title handle } ... on Node { id nodeTitle: title } } }"""
    reps = [{"__typename": "Product", "id": "00000000-0000-0000-0000-0000000000a1"},
            {"__typename": "Node", "id": "00000000-0000-0000-0000-0000000000b1"},
            {"__typename": "Product", "id": "00000000-0000-0000-0000-0000000000a2"}]
    found = data(await gql(api.client, key, query, {"r": reps}))["_entities"]
    assert found[0] == {"id": "00000000-0000-0000-0000-0000000000a1", "title": "Boots",
                        "handle": "boots"}
    assert found[1]["nodeTitle"] == "Hello" and found[2] is None  # drafts: admin keys only
    found = data(await gql(api.client, api.keys["a.admin"], query, {"r": reps}))["_entities"]
    assert found[2]["title"] == "Draft"
    assert data(await gql(api.client, api.keys["b.search"], query, {"r": reps}))[
        "_entities"] == [None, None, None]  # another tenant's documents do not exist
    looked = data(await gql(api.client, key, """{ product(handle: "boots") { id tags }
      node(slug: "hello") { id kind } categories { name products } tags { name products nodes }
    }"""))
    assert looked["product"]["tags"] == ["sale"] and looked["node"]["kind"] == "post"
    assert looked["categories"] == [{"name": "Shoes", "products": 1}]
    assert looked["tags"] == [{"name": "sale", "products": 1, "nodes": 1}]
    body = await gql(api.client, key, '{ product(id: "x", handle: "y") { id } }')
    assert codes(body) == [("VALIDATION", "id")]

