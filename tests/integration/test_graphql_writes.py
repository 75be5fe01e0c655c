"""Every GraphQL mutation against the running app with the real PostgreSQL backend and the
relay + indexer running: each returns what it wrote and a consistency token, and a search
with `minToken` sees the write (the done-when check of issue 16)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from core_write.settings import Settings
from core_write.unit import CoreWrite
from search_api.app import create_app
from search_api.auth import create_key
from tests.api_fixtures import api_settings
from tests.builders import make_tenant
from tests.graphql_client import data, gql
from tests.pipeline import Pipeline


@dataclass
class Live:
    client: TestClient[Any, Any]
    admin: str
    search: str
    operator: str

    async def run(self, key: str, query: str, **variables: Any) -> Any:
        return data(await gql(self.client, key, query, variables))


@pytest.fixture(name="live")
async def live_fixture(settings: Settings, core: CoreWrite,
                       pipeline: Pipeline) -> AsyncIterator[Live]:
    """The app on PostgreSQL search, and the relay + indexer draining the outbox meanwhile."""
    stop = asyncio.Event()

    async def drain() -> None:
        while not stop.is_set():
            if not await pipeline.settle():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.05)  # idle: poll again shortly

    tenant = await make_tenant(core)
    keys = {role: (await create_key(core.pool, tenant["slug"], role))[0]
            for role in ("admin", "search")}
    operator, _ = await create_key(core.pool, None, "operator")
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(api_settings(
        settings, api_max_body_bytes=65536))))
    await client.start_server()
    task = asyncio.create_task(drain())
    try:
        yield Live(client, keys["admin"], keys["search"], operator)
    finally:
        stop.set()
        await task
        await client.close()


SEARCH = """query($q: String, $token: Int, $currency: String) {
  searchProducts(q: $q, minToken: $token, currency: $currency, facets: ["categories", "tags"]) {
    total stale hits { id document } facets { name values { value count label } } } }"""


async def test_a_mutation_then_a_search_with_its_token_finds_the_product(live: Live) -> None:
    created = (await live.run(live.admin, """mutation($input: ProductCreateInput!) {
      createProduct(input: $input) { product { id title } consistencyToken } }""",
        input={"title": "Storm lantern", "handle": "storm-lantern", "status": "published"}))[
        "createProduct"]
    found = (await live.run(live.search, SEARCH, q="lantern",
                            token=created["consistencyToken"]))["searchProducts"]
    assert found["stale"] is False and found["total"] == 1
    assert found["hits"][0]["id"] == created["product"]["id"]
    assert found["hits"][0]["document"]["title"] == "Storm lantern"
    updated = (await live.run(live.admin, """mutation($id: ID!, $input: ProductUpdateInput!) {
      updateProduct(id: $id, input: $input) { product { id title } consistencyToken } }""",
        id=created["product"]["id"], input={"title": "Hurricane lantern"}))["updateProduct"]
    found = (await live.run(live.search, SEARCH, q="hurricane",
                            token=updated["consistencyToken"]))["searchProducts"]
    assert [h["document"]["title"] for h in found["hits"]] == ["Hurricane lantern"]


async def test_every_mutation_writes_and_is_searchable(live: Live) -> None:
    run, admin = live.run, live.admin
    product = (await run(admin, """mutation { createProduct(input: {title: "Camp stove",
      handle: "camp-stove", status: "published",
      thumbnail: "https://img.example.com/stove.jpg"}) { product { id } } }"""))[
        "createProduct"]["product"]["id"]
    variant = (await run(admin, """mutation($p: ID!) { createVariant(productId: $p,
      input: {title: "Default", sku: "STOVE-1"}) { id record consistencyToken } }""",
        p=product))["createVariant"]
    assert variant["record"]["sku"] == "STOVE-1" and variant["consistencyToken"] >= 1
    price = (await run(admin, """mutation($v: ID!) { setPrice(variantId: $v,
      input: {currencyCode: "EUR", amount: 4999}) { record } }""", v=variant["id"]))
    assert price["setPrice"]["record"]["amount"] == 4999
    category = (await run(admin, """mutation { createCommerceCategory(input: {name: "Cooking",
      handle: "cooking"}) { id } }"""))["createCommerceCategory"]["id"]
    await run(admin, """mutation($p: ID!, $c: ID!) { linkProductCategory(productId: $p,
      categoryId: $c) { consistencyToken } }""", p=product, c=category)
    item = (await run(admin, """mutation { createInventoryItem(input: {sku: "STOVE-1"})
      { id } }"""))["createInventoryItem"]["id"]
    location = (await run(admin, """mutation { createStockLocation(input: {name: "Depot"})
      { id } }"""))["createStockLocation"]["id"]
    await run(admin, """mutation($v: ID!, $i: ID!) { linkVariantInventory(variantId: $v,
      inventoryItemId: $i) { consistencyToken } }""", v=variant["id"], i=item)
    level = (await run(admin, """mutation($i: ID!, $l: ID!) { setStockLevel(
      inventoryItemId: $i, locationId: $l, stockedQuantity: 7) { record } }""",
        i=item, l=location))["setStockLevel"]["record"]
    assert level["stocked_quantity"] == 7
    tag = (await run(admin, """mutation { createTag(input: {name: "Outdoor"}) { id } }"""))[
        "createTag"]["id"]
    tagged = (await run(admin, """mutation($t: ID!, $p: ID!) { attachTag(tagId: $t,
      targetType: "product", targetId: $p) { consistencyToken } }""", t=tag, p=product))
    token = tagged["attachTag"]["consistencyToken"]
    found = (await run(live.search, SEARCH, q="stove", token=token, currency="EUR"))[
        "searchProducts"]
    assert found["stale"] is False and found["total"] == 1
    doc = found["hits"][0]["document"]
    assert doc["has_stock"] is True and doc["tags"] == ["Outdoor"]
    assert doc["category_ids"] == [category] and doc["currencies"] == ["EUR"]
    # what a product card renders (issue 13)
    assert doc["thumbnail"] == "https://img.example.com/stove.jpg" and doc["skus"] == ["STOVE-1"]
    assert doc["categories"] == [{"id": category, "name": "Cooking", "handle": "cooking"}]
    assert (doc["price_min"], doc["price_max"]) == (4999, 4999)
    assert {f["name"] for f in found["facets"]} == {"categories", "tags"}
    by_name = {f["name"]: f["values"] for f in found["facets"]}
    assert by_name["categories"] == [{"value": category, "count": 1, "label": "Cooking"}]
    assert by_name["tags"] == [{"value": "Outdoor", "count": 1, "label": "Outdoor"}]
    # REST answers the same names: one search path, one home for the labels
    rest = await live.client.get("/v1/search/products", params={
        "q": "stove", "facets": "categories,tags"},
        headers={"Authorization": f"Bearer {live.search}"})
    assert rest.status == 200
    body = await rest.json()
    assert body["facets"]["categories"] == {category: 1}
    assert body["facet_labels"] == {"categories": {category: "Cooking"}}
    assert body["facet_values"]["categories"] == [
        {"value": category, "count": 1, "label": "Cooking", "handle": "cooking", "option": None}]
    by_sku = await live.client.get("/v1/search/products", params={"q": "stove-1"},
                                   headers={"Authorization": f"Bearer {live.search}"})
    assert [h["id"] for h in (await by_sku.json())["hits"]] == [product]

    # content: a category, a node with its body, an edit, a publication, a new body
    folder = (await run(admin, """mutation { createCategory(input: {name: "Guides"})
      { id record } }"""))["createCategory"]
    node = (await run(admin, """mutation($c: UUID) { createNode(input: {kind: "post",
      title: "Stove care", categoryId: $c, body: {body: "Clean the burner weekly."}})
      { node { id status } consistencyToken } }""", c=folder["id"]))["createNode"]
    assert node["node"]["status"] == "draft"
    node_id = node["node"]["id"]
    edited = (await run(admin, """mutation($n: ID!) { updateNode(id: $n,
      input: {title: "Stove care 101"}) { node { title } } }""", n=node_id))
    assert edited["updateNode"]["node"]["title"] == "Stove care 101"
    await run(admin, """mutation($n: ID!) { setBody(id: $n, input: {body: "Descale monthly."})
      { record } }""", n=node_id)
    published = (await run(admin, """mutation($n: ID!) { publishNode(id: $n)
      { node { status } consistencyToken } }""", n=node_id))["publishNode"]
    assert published["node"]["status"] == "published"
    content = (await run(live.search, """query($t: Int) { searchContent(q: "descale",
      minToken: $t, facets: ["categories"]) { total stale hits { id }
      facets { values { value label } } } }""", t=published["consistencyToken"]))
    assert content["searchContent"]["hits"] == [{"id": node_id}]
    assert content["searchContent"]["facets"] == [
        {"values": [{"value": folder["id"], "label": "Guides"}]}]
    rest = await live.client.post("/v1/search/content", json={
        "q": "descale", "facets": ["categories", "author"]},
        headers={"Authorization": f"Bearer {live.search}"})
    assert (await rest.json())["facet_labels"]["categories"] == {folder["id"]: "Guides"}

    # the product leaves search when unpublished, then is deleted
    gone = (await run(admin, """mutation($p: ID!) { unpublishProduct(id: $p)
      { product { status } consistencyToken } }""", p=product))["unpublishProduct"]
    assert gone["product"]["status"] == "draft"
    found = (await run(live.search, SEARCH, q="stove", token=gone["consistencyToken"]))
    assert found["searchProducts"]["total"] == 0
    deleted = (await run(admin, """mutation($p: ID!) { deleteProduct(id: $p)
      { id consistencyToken } }""", p=product))["deleteProduct"]
    assert deleted["id"] == product


async def test_operators_manage_tenants_modules_and_keys(live: Live) -> None:
    op = live.operator
    tenant = (await live.run(op, """mutation { createTenant(input: {name: "Nordic",
      slug: "nordic", settings: {language: "english"}, modules: ["commerce"]})
      { id record consistencyToken } }"""))["createTenant"]
    assert tenant["record"]["modules"] == ["commerce"]
    assert tenant["record"]["language"] == "english"
    toggled = (await live.run(op, """mutation { setModule(tenant: "nordic", module: "content",
      enabled: true) { record } }"""))["setModule"]["record"]
    assert toggled["enabled"] is True
    made = (await live.run(op, """mutation { createApiKey(input: {tenant: "nordic",
      role: "admin", expiresIn: "1d"}) { key info } }"""))["createApiKey"]
    assert made["info"]["tenant"] == "nordic" and made["info"]["expires_at"]
    written = (await live.run(made["key"], """mutation { createProduct(input: {title: "Sauna",
      handle: "sauna"}) { product { id } } }"""))
    assert written["createProduct"]["product"]["id"]
    rotated = (await live.run(op, """mutation($id: UUID!) { rotateApiKey(id: $id)
      { key info } }""", id=made["info"]["id"]))["rotateApiKey"]
    assert rotated["info"]["rotated_from"] == made["info"]["id"]
    revoked = (await live.run(op, """mutation($id: UUID!) { revokeApiKey(id: $id) }""",
                              id=rotated["info"]["id"]))["revokeApiKey"]
    assert revoked["state"] == "revoked"


async def test_orders_users_seo_media_and_maintenance_mutations(live: Live) -> None:
    run, admin = live.run, live.admin
    product = (await run(admin, """mutation { createProduct(input: {title: "Kettle",
      handle: "kettle", status: "published"}) { product { id } } }"""))[
        "createProduct"]["product"]["id"]
    option = (await run(admin, """mutation($p: ID!) { createOption(productId: $p,
      input: {title: "Colour", values: ["red", "blue"]}) { record } }""", p=product))
    assert option["createOption"]["record"]["title"] == "Colour"
    variant = (await run(admin, """mutation($p: ID!) { createVariant(productId: $p,
      input: {title: "Red", sku: "KET-R"}) { id } }""", p=product))["createVariant"]["id"]
    renamed = (await run(admin, """mutation($v: ID!) { updateVariant(id: $v,
      input: {title: "Red kettle"}) { record } }""", v=variant))["updateVariant"]["record"]
    assert renamed["title"] == "Red kettle" and renamed["sku"] == "KET-R"
    await run(admin, """mutation($v: ID!) { setPrice(variantId: $v, input: {currencyCode: "EUR",
      amount: 1500}) { id } }""", v=variant)
    item = (await run(admin, """mutation { createInventoryItem(input: {sku: "KET-R"}) { id } }"""
                      ))["createInventoryItem"]["id"]
    depot = (await run(admin, """mutation { createStockLocation(input: {name: "Main"}) { id } }"""
                       ))["createStockLocation"]["id"]
    await run(admin, """mutation($v: ID!, $i: ID!) { linkVariantInventory(variantId: $v,
      inventoryItemId: $i) { id } }""", v=variant, i=item)
    await run(admin, """mutation($i: ID!, $l: ID!) { setStockLevel(inventoryItemId: $i,
      locationId: $l, stockedQuantity: 5) { id } }""", i=item, l=depot)
    order = (await run(admin, """mutation($v: UUID!) { placeOrder(input: {currencyCode: "EUR",
      email: "a@example.com", items: [{variantId: $v, quantity: 2}]}) { id record } }""",
        v=variant))["placeOrder"]
    assert order["record"]["status"] == "pending" and len(order["record"]["items"]) == 1
    for status in ("processing", "shipped"):
        moved = await run(admin, """mutation($o: ID!, $s: String!) { updateOrderStatus(id: $o,
          status: $s) { record } }""", o=order["id"], s=status)
        assert moved["updateOrderStatus"]["record"]["status"] == status
    done = await run(admin, """mutation($o: ID!) { completeOrder(id: $o) { record } }""",
                     o=order["id"])
    assert done["completeOrder"]["record"]["status"] == "completed"
    second = (await run(admin, """mutation($v: UUID!) { placeOrder(input: {currencyCode: "EUR",
      items: [{variantId: $v, quantity: 1}]}) { id } }""", v=variant))["placeOrder"]["id"]
    cancelled = await run(admin, """mutation($o: ID!) { cancelOrder(id: $o, reason: "test")
      { record } }""", o=second)
    assert cancelled["cancelOrder"]["record"]["status"] == "cancelled"
    removed = await run(admin, """mutation($o: ID!) { deleteOrder(id: $o) { id } }""", o=second)
    assert removed["deleteOrder"]["id"] == second
    body = await gql(live.client, admin, """mutation($o: ID!) { deleteOrder(id: $o) { id } }""",
                     {"o": order["id"]})  # a completed order may go; twice is NOT_FOUND
    assert not body.get("errors")
    body = await gql(live.client, admin, """mutation($o: ID!) { deleteOrder(id: $o) { id } }""",
                     {"o": order["id"]})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    user = (await run(admin, """mutation { createUser(input: {email: "ed@example.com",
      password: "correct horse battery", displayName: "Ed", role: "author"}) { id record } }"""
                      ))["createUser"]
    assert user["record"]["display_name"] == "Ed" and "password_hash" not in user["record"]
    await run(admin, """mutation($u: ID!) { updateUser(id: $u, input: {displayName: "Edith"})
      { id } }""", u=user["id"])
    meta = await run(admin, """mutation($p: ID!) { setMeta(targetType: "product", targetId: $p,
      input: {title: "Kettles", description: "Boil water"}) { record } }""", p=product)
    assert meta["setMeta"]["record"]["title"] == "Kettles"
    file = await run(admin, """mutation { createMedia(input: {filename: "k.jpg",
      originalName: "kettle.jpg", mimeType: "image/jpeg", size: 1234,
      storagePath: "media/k.jpg"}) { id record } }""")
    assert file["createMedia"]["record"]["mime_type"] == "image/jpeg"
    tag = (await run(admin, """mutation { createTag(input: {name: "Kitchen"}) { id } }"""))[
        "createTag"]["id"]
    await run(admin, """mutation($t: ID!, $p: ID!) { attachTag(tagId: $t, targetType: "product",
      targetId: $p) { id } }""", t=tag, p=product)
    await run(admin, """mutation($t: ID!) { updateTag(id: $t, input: {name: "Kitchenware"})
      { record } }""", t=tag)
    detached = await run(admin, """mutation($t: ID!, $p: ID!) { detachTag(tagId: $t,
      targetType: "product", targetId: $p) { consistencyToken } }""", t=tag, p=product)
    found = (await run(live.search, SEARCH, q="kettle",
                       token=detached["detachTag"]["consistencyToken"]))["searchProducts"]
    assert found["total"] == 1 and found["hits"][0]["document"]["tags"] == []
    category = (await run(admin, """mutation { createCommerceCategory(input: {name: "Tea",
      handle: "tea"}) { id } }"""))["createCommerceCategory"]["id"]
    await run(admin, """mutation($p: ID!, $c: ID!) { linkProductCategory(productId: $p,
      categoryId: $c) { id } }""", p=product, c=category)
    await run(admin, """mutation($p: ID!, $c: ID!) { unlinkProductCategory(productId: $p,
      categoryId: $c) { id } }""", p=product, c=category)
    node = (await run(admin, """mutation { createNode(input: {kind: "page", title: "About",
      status: "published"}) { node { id } } }"""))["createNode"]["node"]["id"]
    hidden = await run(admin, """mutation($n: ID!) { unpublishNode(id: $n) { node { status } } }""",
                       n=node)
    assert hidden["unpublishNode"]["node"]["status"] == "draft"
    gone = await run(admin, """mutation($n: ID!) { deleteNode(id: $n) { id } }""", n=node)
    assert gone["deleteNode"]["id"] == node


async def test_updates_and_deletes(live: Live) -> None:
    run, admin = live.run, live.admin

    async def one(query: str, **variables: Any) -> Any:
        answer = await run(admin, "mutation" + query, **variables)
        (payload,) = answer.values()
        return payload

    product = (await one("""{ createProduct(input: {title: "Mug", handle: "mug",
      status: "published"}) { product { id } } }"""))["product"]["id"]
    option = (await one("""($p: ID!) { createOption(productId: $p, input: {title: "Size",
      values: ["S"]}) { id } }""", p=product))["id"]
    assert (await one("""($o: ID!) { updateOption(id: $o, input: {values: ["S", "M"]})
      { record } }""", o=option))["record"]["title"] == "Size"
    variant = (await one("""($p: ID!) { createVariant(productId: $p, input: {title: "S"})
      { id } }""", p=product))["id"]
    price = (await one("""($v: ID!) { setPrice(variantId: $v, input: {currencyCode: "USD",
      amount: 900}) { id } }""", v=variant))["id"]
    item = (await one("""{ createInventoryItem(input: {sku: "MUG-S"}) { id } }"""))["id"]
    depot = (await one("""{ createStockLocation(input: {name: "Shelf"}) { id } }"""))["id"]
    await one("""($v: ID!, $i: ID!) { linkVariantInventory(variantId: $v, inventoryItemId: $i)
      { id } }""", v=variant, i=item)
    await one("""($i: ID!, $l: ID!) { setStockLevel(inventoryItemId: $i, locationId: $l,
      stockedQuantity: 3) { id } }""", i=item, l=depot)
    adjusted = await one("""($i: ID!, $l: ID!) { adjustStock(inventoryItemId: $i,
      locationId: $l, delta: 4) { record } }""", i=item, l=depot)
    assert adjusted["record"]["stocked_quantity"] == 7
    assert (await one("""($i: ID!) { updateInventoryItem(id: $i, input: {sku: "MUG-S2"})
      { record } }""", i=item))["record"]["sku"] == "MUG-S2"
    assert (await one("""($l: ID!) { updateStockLocation(id: $l, input: {name: "Shelf 2"})
      { record } }""", l=depot))["record"]["name"] == "Shelf 2"
    await one("""($i: ID!, $l: ID!) { deleteStockLevel(inventoryItemId: $i, locationId: $l)
      { id } }""", i=item, l=depot)
    await one("""($v: ID!, $i: ID!) { unlinkVariantInventory(variantId: $v, inventoryItemId: $i)
      { id } }""", v=variant, i=item)
    await one("""($i: ID!) { deleteInventoryItem(id: $i) { id } }""", i=item)
    await one("""($l: ID!) { deleteStockLocation(id: $l) { id } }""", l=depot)
    await one("""($x: ID!) { deletePrice(id: $x) { id } }""", x=price)
    await one("""($v: ID!) { deleteVariant(id: $v) { id } }""", v=variant)
    await one("""($o: ID!) { deleteOption(id: $o) { id } }""", o=option)
    shelf = (await one("""{ createCommerceCategory(input: {name: "Cups", handle: "cups"})
      { id } }"""))["id"]
    assert (await one("""($c: ID!) { updateCommerceCategory(id: $c, input: {name: "Mugs"})
      { record } }""", c=shelf))["record"]["name"] == "Mugs"
    await one("""($c: ID!) { deleteCommerceCategory(id: $c) { id } }""", c=shelf)
    await one("""($p: ID!) { setMeta(targetType: "product", targetId: $p, input: {title: "M"})
      { id } }""", p=product)
    await one("""($p: ID!) { deleteMeta(targetType: "product", targetId: $p) { id } }""",
              p=product)
    folder = (await one("""{ createCategory(input: {name: "News"}) { id } }"""))["id"]
    assert (await one("""($c: ID!) { updateCategory(id: $c, input: {name: "Updates"})
      { record } }""", c=folder))["record"]["name"] == "Updates"
    await one("""($c: ID!) { deleteCategory(id: $c) { id } }""", c=folder)
    tag = (await one("""{ createTag(input: {name: "Gift"}) { id } }"""))["id"]
    await one("""($t: ID!) { deleteTag(id: $t) { id } }""", t=tag)
    file = (await one("""{ createMedia(input: {filename: "m.png", originalName: "m.png",
      mimeType: "image/png", size: 10, storagePath: "m.png"}) { id } }"""))["id"]
    assert (await one("""($m: ID!) { updateMedia(id: $m, input: {altText: "A mug"})
      { record } }""", m=file))["record"]["alt_text"] == "A mug"
    await one("""($m: ID!) { deleteMedia(id: $m) { id } }""", m=file)
    user = (await one("""{ createUser(input: {email: "u@example.com",
      password: "correct horse battery"}) { id } }"""))["id"]
    await one("""($u: ID!) { deleteUser(id: $u) { id } }""", u=user)
    deleted = await one("""($p: ID!) { deleteProduct(id: $p) { id consistencyToken } }""",
                        p=product)
    found = (await run(live.search, SEARCH, q="mug", token=deleted["consistencyToken"]))
    assert found["searchProducts"]["total"] == 0

    op = live.operator
    await run(op, """mutation { createTenant(input: {name: "Temp", slug: "temp"}) { id } }""")
    renamed = await run(op, """mutation { updateTenant(tenant: "temp", input: {name: "Tmp"})
      { record } }""")
    assert renamed["updateTenant"]["record"]["name"] == "Tmp"
    settled = await run(op, """mutation { updateTenant(tenant: "temp",
      input: {settings: {inStockFirst: false}}) { record } }""")
    assert settled["updateTenant"]["record"]["settings"]["in_stock_first"] is False
    gone = await run(op, """mutation { deleteTenant(tenant: "temp") { record } }""")
    assert gone["deleteTenant"]["record"] == {"slug": "temp"}
