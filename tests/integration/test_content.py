from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from ulid import ULID

from core_write.errors import (
    Conflict,
    InvalidId,
    ModuleDisabled,
    NotFound,
    TenantMismatch,
    ValidationFailed,
)
from core_write.services import content, taxonomy, tenants, users
from core_write.unit import CoreWrite
from tests.builders import (
    FAST_HASHER,
    events_after,
    make_category,
    make_node,
    make_tag,
    make_tenant,
    make_user,
    outbox_mark,
)
from tests.conftest import outbox_events


@pytest.fixture(autouse=True)
def _fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "hasher", FAST_HASHER)


async def _node(pool: asyncpg.Pool, node_id: uuid.UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM nodes WHERE id = $1", node_id)
    return dict(row) if row is not None else None


async def _count(pool: asyncpg.Pool, table: str, column: str, entity_id: uuid.UUID) -> int:
    return int(await pool.fetchval(f"SELECT {column} FROM {table} WHERE id = $1", entity_id))


async def test_create_published_post_with_body_category_and_author(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(core, settings={"language": "english"})
    author = await make_user(core, tenant["id"])
    category = await make_category(core, tenant["id"])
    mark = await outbox_mark(pool)
    node = (await core.call(content.create_node, tenant["id"], {
        "kind": "post", "title": "Running fast", "slug": "running-fast", "excerpt": "Short",
        "author_id": str(author["id"]), "category_id": category["id"], "status": "published",
        "position": 3, "metadata": {"featured": True},
        "body": {"body": "The runners were running quickly", "format": "html"},
    })).value
    stored = await _node(pool, node["id"])
    assert stored is not None and stored == node
    assert (node["kind"], node["title"], node["slug"], node["excerpt"], node["status"]) == (
        "post", "Running fast", "running-fast", "Short", "published")
    assert (node["author_id"], node["category_id"], node["position"], node["depth"]) == (
        author["id"], category["id"], 3, 0)
    assert node["metadata"] == {"featured": True}
    assert node["published_at"] is not None
    body = await pool.fetchrow("SELECT * FROM bodies WHERE node_id = $1", node["id"])
    assert body is not None
    assert (body["tenant_id"], body["body"], body["format"]) == (
        tenant["id"], "The runners were running quickly", "html")
    assert "'run'" in body["search_vector"] and "'quick'" in body["search_vector"]
    assert await events_after(pool, mark) == [
        {"type": "NodeCreated", "node_id": str(node["id"]), "kind": "post",
         "author_id": str(author["id"]), "parent_id": None},
        {"type": "NodePublished", "node_id": str(node["id"]), "kind": "post"},
    ]
    assert await _count(pool, "categories", "node_count", category["id"]) == 1


async def test_draft_node_emits_only_created_and_body_uses_simple_by_default(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(core)  # language 'simple'
    mark = await outbox_mark(pool)
    node = await make_node(core, tenant["id"], kind="page", body={"body": "Running"})
    assert node["status"] == "draft" and node["published_at"] is None
    vector = await pool.fetchval("SELECT search_vector FROM bodies WHERE node_id = $1",
                                 node["id"])
    assert vector == "'running':1"
    assert await pool.fetchval("SELECT format FROM bodies WHERE node_id = $1",
                               node["id"]) == "markdown"
    assert [e["type"] for e in await events_after(pool, mark)] == ["NodeCreated"]


@pytest.mark.parametrize(("data", "field"), [
    ({"kind": "video", "title": "x"}, "kind"),
    ({"title": "x"}, "kind"),
    ({"kind": "post", "title": "x", "status": "live"}, "status"),
    ({"kind": "post", "title": "x", "slug": "Bad Slug"}, "slug"),
    ({"kind": "post", "title": "x", "slug": "-edge"}, "slug"),
    ({"kind": "post", "title": "x", "slug": "a" * 256}, "slug"),
    ({"kind": "post"}, "title"),
    ({"kind": "page", "title": None}, "title"),
    ({"kind": "post", "title": ""}, "title"),
    ({"kind": "post", "title": "x" * 256}, "title"),
    ({"kind": "comment"}, "parent_id"),
    ({"kind": "post", "title": "x", "parent_id": "nope"}, "parent_id"),
    ({"kind": "post", "title": "x", "author_id": 42}, "author_id"),
    ({"kind": "post", "title": "x", "category_id": "123"}, "category_id"),
    ({"kind": "post", "title": "x", "position": 2**31}, "position"),
    ({"kind": "post", "title": "x", "metadata": ["a"]}, "metadata"),
    ({"kind": "post", "title": "x", "body": {"body": "b", "format": "rtf"}}, "body.format"),
    ({"kind": "post", "title": "x", "body": {"format": "html"}}, "body.body"),
    ({"kind": "post", "title": "x", "body": {"body": "b", "lang": "en"}}, "body.lang"),
    ({"kind": "post", "title": "x", "depth": 4}, "depth"),
    ({"kind": "post", "title": "x", "reply_count": 4}, "reply_count"),
])
async def test_bad_node_input_names_the_field(
    core: CoreWrite, pool: asyncpg.Pool, data: dict[str, object], field: str
) -> None:
    tenant = await make_tenant(core)
    mark = await outbox_mark(pool)
    with pytest.raises(ValidationFailed) as info:
        await core.call(content.create_node, tenant["id"], data)
    assert info.value.field == field
    if field in ("parent_id", "author_id", "category_id"):
        assert isinstance(info.value, InvalidId) or data.get("kind") == "comment"
    assert await pool.fetchval("SELECT count(*) FROM nodes") == 0
    assert await events_after(pool, mark) == []


async def test_a_page_cannot_hang_under_a_comment(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    post = await make_node(core, tenant["id"])
    comment = await make_node(core, tenant["id"], kind="comment", parent_id=post["id"])
    with pytest.raises(ValidationFailed) as info:
        await make_node(core, tenant["id"], kind="page", parent_id=comment["id"])
    assert info.value.field == "parent_id"
    assert await pool.fetchval("SELECT count(*) FROM nodes") == 2


@pytest.mark.parametrize("field", ["parent_id", "author_id", "category_id"])
async def test_references_must_belong_to_the_tenant(
    core: CoreWrite, pool: asyncpg.Pool, field: str
) -> None:
    a, b = await make_tenant(core), await make_tenant(core)
    makers = {"parent_id": make_node, "author_id": make_user, "category_id": make_category}
    foreign = await makers[field](core, b["id"])
    kind = "comment" if field == "parent_id" else "post"
    mark = await outbox_mark(pool)
    with pytest.raises(TenantMismatch):
        await make_node(core, a["id"], kind=kind, **{field: foreign["id"]})
    with pytest.raises(NotFound):
        await make_node(core, a["id"], kind=kind, **{field: str(uuid.uuid4())})
    assert await pool.fetchval("SELECT count(*) FROM nodes WHERE tenant_id = $1", a["id"]) == 0
    assert await events_after(pool, mark) == []


async def test_depth_and_reply_counts_follow_the_tree(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    post = await make_node(core, tenant["id"])
    other = await make_node(core, tenant["id"])
    first = await make_node(core, tenant["id"], kind="comment", parent_id=str(ULID.from_uuid(
        post["id"])))
    second = await make_node(core, tenant["id"], kind="comment", parent_id=post["id"])
    reply = await make_node(core, tenant["id"], kind="comment", parent_id=first["id"])
    subpage = await make_node(core, tenant["id"], kind="page", parent_id=post["id"])
    assert [n["depth"] for n in (post, first, reply, subpage)] == [0, 1, 2, 1]
    assert first["parent_id"] == post["id"]
    assert await _count(pool, "nodes", "reply_count", post["id"]) == 2  # the page is no reply
    assert await _count(pool, "nodes", "reply_count", first["id"]) == 1

    await core.call(content.update_node, tenant["id"], first["id"], {"parent_id": other["id"]})
    assert await _count(pool, "nodes", "reply_count", post["id"]) == 1
    assert await _count(pool, "nodes", "reply_count", other["id"]) == 1
    moved_reply = await _node(pool, reply["id"])
    assert moved_reply is not None and moved_reply["depth"] == 2

    await core.call(content.delete_node, tenant["id"], second["id"])
    assert await _count(pool, "nodes", "reply_count", post["id"]) == 0
    await core.call(content.delete_node, tenant["id"], reply["id"])
    assert await _count(pool, "nodes", "reply_count", first["id"]) == 0


async def test_category_node_count_follows_changes_and_deletes(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(core)
    news, blog = await make_category(core, tenant["id"]), await make_category(core, tenant["id"])
    post = await make_node(core, tenant["id"], category_id=news["id"])
    comment = await make_node(core, tenant["id"], kind="comment", parent_id=post["id"],
                              category_id=news["id"])
    assert await _count(pool, "categories", "node_count", news["id"]) == 2

    await core.call(content.update_node, tenant["id"], post["id"], {"category_id": blog["id"]})
    assert await _count(pool, "categories", "node_count", news["id"]) == 1
    assert await _count(pool, "categories", "node_count", blog["id"]) == 1
    await core.call(content.update_node, tenant["id"], comment["id"], {"category_id": None})
    assert await _count(pool, "categories", "node_count", news["id"]) == 0

    await core.call(content.update_node, tenant["id"], comment["id"], {"category_id": blog["id"]})
    assert await _count(pool, "categories", "node_count", blog["id"]) == 2
    await core.call(content.delete_node, tenant["id"], post["id"])  # the comment goes with it
    assert await _count(pool, "categories", "node_count", blog["id"]) == 0


async def test_update_emits_changed_fields_with_old_parent_and_category(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(core)
    category = await make_category(core, tenant["id"])
    author = await make_user(core, tenant["id"])
    root, other = await make_node(core, tenant["id"]), await make_node(core, tenant["id"])
    page = await make_node(core, tenant["id"], kind="page", parent_id=root["id"],
                           category_id=category["id"], title="Old")
    mark = await outbox_mark(pool)
    same = (await core.call(content.update_node, tenant["id"], page["id"],
                            {"title": "Old", "category_id": category["id"]})).value
    assert same == page
    assert await events_after(pool, mark) == []

    row = (await core.call(content.update_node, tenant["id"], page["id"], {
        "title": "New", "parent_id": other["id"], "category_id": None,
        "author_id": author["id"], "metadata": {"k": 1}, "position": 7,
    })).value
    assert (row["title"], row["parent_id"], row["category_id"], row["author_id"]) == (
        "New", other["id"], None, author["id"])
    assert (row["metadata"], row["position"], row["depth"]) == ({"k": 1}, 7, 1)
    assert await events_after(pool, mark) == [{
        "type": "NodeUpdated", "node_id": str(page["id"]),
        "changed": ["author_id", "category_id", "metadata", "parent_id", "position", "title"],
        "old_parent_id": str(root["id"]), "old_category_id": str(category["id"]),
    }]

    mark = await outbox_mark(pool)
    await core.call(content.update_node, tenant["id"], page["id"], {"excerpt": "e"})
    assert await events_after(pool, mark) == [{
        "type": "NodeUpdated", "node_id": str(page["id"]), "changed": ["excerpt"],
        "old_parent_id": None, "old_category_id": None}]


async def test_moving_a_subtree_shifts_depths(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    top = await make_node(core, tenant["id"], kind="page")
    mid = await make_node(core, tenant["id"], kind="page", parent_id=top["id"])
    leaf = await make_node(core, tenant["id"], kind="page", parent_id=mid["id"])
    note = await make_node(core, tenant["id"], kind="comment", parent_id=leaf["id"])
    await core.call(content.update_node, tenant["id"], mid["id"], {"parent_id": None})
    depths = {row["id"]: row["depth"] for row in await pool.fetch("SELECT id, depth FROM nodes")}
    assert depths == {top["id"]: 0, mid["id"]: 0, leaf["id"]: 1, note["id"]: 2}
    await core.call(content.update_node, tenant["id"], top["id"], {"parent_id": leaf["id"]})
    depths = {row["id"]: row["depth"] for row in await pool.fetch("SELECT id, depth FROM nodes")}
    assert depths == {top["id"]: 2, mid["id"]: 0, leaf["id"]: 1, note["id"]: 2}
    with pytest.raises(ValidationFailed) as info:
        await core.call(content.update_node, tenant["id"], top["id"], {"parent_id": note["id"]})
    assert info.value.field == "parent_id"


@pytest.mark.parametrize("target", ["self", "child", "grandchild"])
async def test_a_move_that_makes_a_cycle_is_refused(
    core: CoreWrite, pool: asyncpg.Pool, target: str
) -> None:
    tenant = await make_tenant(core)
    top = await make_node(core, tenant["id"], kind="page")
    child = await make_node(core, tenant["id"], kind="page", parent_id=top["id"])
    grandchild = await make_node(core, tenant["id"], kind="page", parent_id=child["id"])
    new_parent = {"self": top, "child": child, "grandchild": grandchild}[target]
    mark = await outbox_mark(pool)
    with pytest.raises(Conflict) as info:
        await core.call(content.update_node, tenant["id"], top["id"],
                        {"parent_id": new_parent["id"]})
    assert info.value.field == "parent_id"
    assert await _node(pool, top["id"]) == top
    assert await events_after(pool, mark) == []


@pytest.mark.parametrize(("data", "field", "error"), [
    ({"kind": "page"}, "kind", ValidationFailed),
    ({"status": "published"}, "status", ValidationFailed),
    ({"body": {"body": "x"}}, "body", ValidationFailed),
    ({"title": None}, "title", ValidationFailed),
    ({"slug": "UPPER"}, "slug", ValidationFailed),
    ({"position": None}, "position", ValidationFailed),
    ({"parent_id": "zzz"}, "parent_id", InvalidId),
])
async def test_bad_update_names_the_field_and_changes_nothing(
    core: CoreWrite, pool: asyncpg.Pool, data: dict[str, object], field: str,
    error: type[Exception],
) -> None:
    tenant = await make_tenant(core)
    node = await make_node(core, tenant["id"])
    mark = await outbox_mark(pool)
    with pytest.raises(error) as info:
        await core.call(content.update_node, tenant["id"], node["id"], data)
    assert isinstance(info.value, ValidationFailed) and info.value.field == field
    assert await _node(pool, node["id"]) == node
    assert await events_after(pool, mark) == []


async def test_a_comment_cannot_lose_its_parent(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    post = await make_node(core, tenant["id"])
    comment = await make_node(core, tenant["id"], kind="comment", parent_id=post["id"])
    with pytest.raises(ValidationFailed) as info:
        await core.call(content.update_node, tenant["id"], comment["id"], {"parent_id": None})
    assert info.value.field == "parent_id"
    assert await _node(pool, comment["id"]) == comment


async def test_slug_is_unique_per_tenant_and_kind(core: CoreWrite, pool: asyncpg.Pool) -> None:
    a, b = await make_tenant(core), await make_tenant(core)
    await make_node(core, a["id"], slug="hello")
    with pytest.raises(Conflict) as info:
        await make_node(core, a["id"], slug="hello")
    assert info.value.field == "slug"
    page = await make_node(core, a["id"], kind="page", slug="hello")
    await make_node(core, b["id"], slug="hello")
    post = await make_node(core, a["id"], slug="other")
    with pytest.raises(Conflict) as info:
        await core.call(content.update_node, a["id"], post["id"], {"slug": "hello"})
    assert info.value.field == "slug"
    assert page["slug"] == "hello"
    assert await pool.fetchval("SELECT count(*) FROM nodes WHERE slug = 'hello'") == 3


async def test_publish_and_unpublish(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    node = await make_node(core, tenant["id"], kind="page")
    mark = await outbox_mark(pool)
    published = (await core.call(content.publish_node, tenant["id"], node["id"])).value
    assert published["status"] == "published" and published["published_at"] is not None
    again = (await core.call(content.publish_node, tenant["id"], node["id"])).value
    assert again == published
    draft = (await core.call(content.unpublish_node, tenant["id"], node["id"])).value
    assert draft["status"] == "draft"
    assert draft["published_at"] == published["published_at"]
    await core.call(content.unpublish_node, tenant["id"], node["id"], "draft")
    archived = (await core.call(content.unpublish_node, tenant["id"], node["id"],
                                "archived")).value
    assert archived["status"] == "archived"
    republished = (await core.call(content.publish_node, tenant["id"], node["id"])).value
    assert republished["published_at"] == published["published_at"]  # first publication kept
    node_id = str(node["id"])
    assert await events_after(pool, mark) == [
        {"type": "NodePublished", "node_id": node_id, "kind": "page"},
        {"type": "NodeUnpublished", "node_id": node_id, "kind": "page", "status": "draft"},
        {"type": "NodeUnpublished", "node_id": node_id, "kind": "page", "status": "archived"},
        {"type": "NodePublished", "node_id": node_id, "kind": "page"},
    ]
    with pytest.raises(ValidationFailed) as info:
        await core.call(content.unpublish_node, tenant["id"], node["id"], "published")
    assert info.value.field == "status"


async def test_set_body_upserts_and_emits_only_on_change(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(core, settings={"language": "english"})
    node = await make_node(core, tenant["id"])
    mark = await outbox_mark(pool)
    body = (await core.call(content.set_body, tenant["id"], node["id"],
                            {"body": "Cats running"})).value
    assert (body["body"], body["format"], body["node_id"]) == ("Cats running", "markdown",
                                                               node["id"])
    assert body["search_vector"] == "'cat':1 'run':2"
    await core.call(content.set_body, tenant["id"], node["id"], {"body": "Cats running"})
    changed = (await core.call(content.set_body, tenant["id"], node["id"],
                               {"body": "Cats running", "format": "plain"})).value
    assert changed["format"] == "plain"
    await core.call(content.set_body, tenant["id"], node["id"], {"body": "Dogs", "format": "plain"})
    assert await pool.fetchval("SELECT search_vector FROM bodies WHERE node_id = $1",
                               node["id"]) == "'dog':1"
    assert await pool.fetchval("SELECT count(*) FROM bodies") == 1
    assert await events_after(pool, mark) == [
        {"type": "BodyUpdated", "node_id": str(node["id"])}] * 3
    with pytest.raises(ValidationFailed) as info:
        await core.call(content.set_body, tenant["id"], node["id"], {"body": 5})
    assert info.value.field == "body"


async def test_delete_emits_one_event_per_node_of_the_subtree(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(core)
    tag = await make_tag(core, tenant["id"])
    post = await make_node(core, tenant["id"], body={"body": "text"})
    keep = await make_node(core, tenant["id"])
    first = await make_node(core, tenant["id"], kind="comment", parent_id=post["id"])
    second = await make_node(core, tenant["id"], kind="comment", parent_id=post["id"])
    reply = await make_node(core, tenant["id"], kind="comment", parent_id=first["id"],
                            body={"body": "reply"})
    for node in (post, reply, keep):
        await core.call(taxonomy.attach_tag, tenant["id"], tag["id"], "node", node["id"])
    assert await _count(pool, "tags", "use_count", tag["id"]) == 3
    mark = await outbox_mark(pool)
    root = (await core.call(content.delete_node, tenant["id"], post["id"])).value
    assert root["id"] == post["id"]
    events = await events_after(pool, mark)
    assert [e["type"] for e in events] == ["NodeDeleted"] * 4
    assert events[0] == {"type": "NodeDeleted", "node_id": str(post["id"]), "kind": "post",
                         "parent_id": None}
    assert {e["node_id"]: e["parent_id"] for e in events[1:]} == {
        str(first["id"]): str(post["id"]), str(second["id"]): str(post["id"]),
        str(reply["id"]): str(first["id"])}
    assert [r["id"] for r in await pool.fetch("SELECT id FROM nodes")] == [keep["id"]]
    assert await pool.fetchval("SELECT count(*) FROM bodies") == 0
    assert await _count(pool, "tags", "use_count", tag["id"]) == 1
    with pytest.raises(NotFound):
        await core.call(content.delete_node, tenant["id"], post["id"])


async def test_deleting_the_author_keeps_the_node(core: CoreWrite, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(core)
    author = await make_user(core, tenant["id"])
    node = await make_node(core, tenant["id"], author_id=author["id"])
    await core.call(users.delete_user, tenant["id"], author["id"])
    stored = await _node(pool, node["id"])
    assert stored is not None and stored["author_id"] is None


async def test_disabled_content_module_refuses_every_write(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(core)
    node = await make_node(core, tenant["id"])
    category = await make_category(core, tenant["id"])
    await core.call(tenants.set_module, tenant["id"], "content", False)
    mark = await outbox_mark(pool)
    tid, nid = tenant["id"], node["id"]
    calls: list[tuple[Any, ...]] = [
        (content.create_node, tid, {"kind": "post", "title": "x"}),
        (content.update_node, tid, nid, {"title": "y"}),
        (content.publish_node, tid, nid),
        (content.unpublish_node, tid, nid, "archived"),
        (content.set_body, tid, nid, {"body": "b"}),
        (content.delete_node, tid, nid),
        (taxonomy.create_category, tid, {"name": "c"}),
        (taxonomy.update_category, tid, category["id"], {"name": "d"}),
        (taxonomy.delete_category, tid, category["id"]),
    ]
    for service, *args in calls:
        with pytest.raises(ModuleDisabled) as info:
            await core.call(service, *args)
        assert info.value.module == "content"
    assert await _node(pool, nid) == node
    assert await pool.fetchval("SELECT count(*) FROM nodes") == 1
    assert await pool.fetchval("SELECT count(*) FROM bodies") == 0
    assert await events_after(pool, mark) == []


async def test_tenant_a_cannot_touch_tenant_b_nodes(core: CoreWrite, pool: asyncpg.Pool) -> None:
    a, b = await make_tenant(core), await make_tenant(core)
    mine = await make_node(core, a["id"])
    theirs = await make_node(core, b["id"], body={"body": "theirs"})
    their_user = await make_user(core, b["id"])
    their_category = await make_category(core, b["id"])
    mark = await outbox_mark(pool)
    calls: list[tuple[Any, ...]] = [
        (content.update_node, a["id"], theirs["id"], {"title": "hacked"}),
        (content.update_node, a["id"], mine["id"], {"parent_id": theirs["id"]}),
        (content.update_node, a["id"], mine["id"], {"author_id": their_user["id"]}),
        (content.update_node, a["id"], mine["id"], {"category_id": their_category["id"]}),
        (content.publish_node, a["id"], theirs["id"]),
        (content.unpublish_node, a["id"], theirs["id"], "archived"),
        (content.set_body, a["id"], theirs["id"], {"body": "hacked"}),
        (content.delete_node, a["id"], theirs["id"]),
    ]
    for service, *args in calls:
        with pytest.raises(TenantMismatch):
            await core.call(service, *args)
    assert await _node(pool, theirs["id"]) == theirs
    assert await _node(pool, mine["id"]) == mine
    assert await pool.fetchval("SELECT body FROM bodies WHERE node_id = $1",
                               theirs["id"]) == "theirs"
    assert await events_after(pool, mark) == []


async def test_concurrent_crossing_moves_cannot_make_a_cycle(
    core: CoreWrite, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(core)
    pairs = [(await make_node(core, tenant["id"], kind="page"),
              await make_node(core, tenant["id"], kind="page")) for _ in range(4)]
    results = await asyncio.gather(*(
        core.call(content.update_node, tenant["id"], a["id"], {"parent_id": b["id"]})
        for left, right in pairs for a, b in ((left, right), (right, left))
    ), return_exceptions=True)
    refused = [r for r in results if isinstance(r, Conflict)]
    assert [r.field for r in refused] == ["parent_id"] * 4, results
    rows = await pool.fetch("SELECT id, parent_id, depth FROM nodes")
    parents = {row["id"]: row["parent_id"] for row in rows}
    for left, right in pairs:  # exactly one of each pair moved under the other
        assert {parents[left["id"]], parents[right["id"]]} in ({None, left["id"]},
                                                               {None, right["id"]})
    assert sorted(row["depth"] for row in rows) == [0] * 4 + [1] * 4
    assert [e["type"] for e in await outbox_events(pool)].count("NodeUpdated") == 4
