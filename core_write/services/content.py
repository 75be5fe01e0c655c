"""Content nodes (pages, posts, comments: one tree per tenant) and their bodies with a
full-text vector in the tenant's language (I/O: the unit's connection).

`reply_count` of a parent and `node_count` of a category are kept by triggers of the schema;
nothing here maintains them. Every write needs the tenant's `content` module.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core_write import events as ev
from core_write.errors import ValidationFailed
from core_write.ids import new_id, parse_id
from core_write.queries import QUERIES
from core_write.rows import (
    Table,
    changed_fields,
    delete,
    fetch_owned,
    insert,
    update,
)
from core_write.services.taxonomy import (
    CATEGORIES,
    lock_tree,
    locked_subtree,
    move_in_tree,
)
from core_write.services.users import USERS
from core_write.unit import Unit, write_service
from core_write.validate import (
    INT_MAX,
    INT_MIN,
    Body,
    Description,
    Id,
    JsonObject,
    Slug,
    parse_input,
)

NODES = Table("nodes", "node")
BODIES = Table("bodies", "body", key="node_id")

Kind = Literal["page", "post", "comment"]
Status = Literal["draft", "published", "archived"]


class BodyInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: Body
    format: Literal["markdown", "html", "plain"] = "markdown"


class _NodeFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=255)
    slug: Slug | None = None
    excerpt: Description | None = None
    parent_id: Id | None = None
    author_id: Id | None = None
    category_id: Id | None = None
    position: int = Field(default=0, ge=INT_MIN, le=INT_MAX)
    metadata: JsonObject = Field(default_factory=dict)


class NodeCreate(_NodeFields):
    kind: Kind
    status: Status = "draft"
    body: BodyInput | None = None


class NodeUpdate(_NodeFields):
    """Only the fields given change. `kind` is fixed at creation; the status changes through
    `publish_node`/`unpublish_node` and the body through `set_body`, each with its own event."""


async def _check_refs(unit: Unit, tenant_id: uuid.UUID, values: Mapping[str, Any]) -> None:
    """The author and category a node names must be the tenant's."""
    if values.get("author_id") is not None:
        await fetch_owned(unit.conn, USERS, tenant_id, values["author_id"])
    if values.get("category_id") is not None:
        await fetch_owned(unit.conn, CATEGORIES, tenant_id, values["category_id"])


def _check_title(kind: str, title: str | None) -> None:
    if title is None and kind != "comment":
        raise ValidationFailed("title", f"is required for a {kind}")


def _check_parent(kind: str, parent: Mapping[str, Any] | None) -> None:
    if parent is None and kind == "comment":
        raise ValidationFailed("parent_id", "a comment needs a parent node")
    if parent is not None and parent["kind"] == "comment" and kind != "comment":
        raise ValidationFailed("parent_id", f"a {kind} cannot be the child of a comment")


async def _write_body(
    unit: Unit, tenant_id: uuid.UUID, node_id: uuid.UUID, body: BodyInput
) -> dict[str, Any]:
    row = await unit.conn.fetchrow(QUERIES["body_upsert"], node_id, tenant_id, body.body,
                                   body.format)
    assert row is not None
    return dict(row)


@write_service("content")
async def create_node(
    unit: Unit, tenant_id: uuid.UUID, data: NodeCreate | Mapping[str, Any]
) -> dict[str, Any]:
    """A page, post or comment, with its body if given: `NodeCreated` covers the body, and a
    node created published also gets `NodePublished`."""
    spec = parse_input(NodeCreate, data)
    _check_title(spec.kind, spec.title)
    parent = None
    if spec.parent_id is not None:
        # Locked so that a concurrent move cannot leave this child with a stale depth.
        parent = await fetch_owned(unit.conn, NODES, tenant_id, spec.parent_id, lock=True)
    _check_parent(spec.kind, parent)
    values = spec.model_dump(exclude={"body"})
    await _check_refs(unit, tenant_id, values)
    values.update(id=new_id(), tenant_id=tenant_id,
                  depth=0 if parent is None else parent["depth"] + 1,
                  published_at=datetime.now(UTC) if spec.status == "published" else None)
    row = await insert(unit.conn, NODES, values)
    if spec.body is not None:
        await _write_body(unit, tenant_id, row["id"], spec.body)
    unit.emit(tenant_id, ev.NodeCreated(node_id=row["id"], kind=spec.kind,
                                        author_id=spec.author_id, parent_id=spec.parent_id))
    if spec.status == "published":
        unit.emit(tenant_id, ev.NodePublished(node_id=row["id"], kind=spec.kind))
    return row


@write_service("content")
async def update_node(
    unit: Unit, tenant_id: uuid.UUID, node_id: uuid.UUID | str,
    data: NodeUpdate | Mapping[str, Any],
) -> dict[str, Any]:
    """Change the given fields. A move re-checks the parent rules, refuses cycles (`Conflict`
    naming `parent_id`) and shifts the depth of the whole subtree."""
    spec = parse_input(NodeUpdate, data)
    node_id = parse_id(node_id, "node_id")
    if "parent_id" in spec.model_fields_set:
        await lock_tree(unit.conn, NODES, tenant_id)
    current = await fetch_owned(unit.conn, NODES, tenant_id, node_id, lock=True)
    changes = changed_fields(current, spec.model_dump(include=spec.model_fields_set))
    if not changes:
        return current
    if "title" in changes:
        _check_title(current["kind"], changes["title"])
    await _check_refs(unit, tenant_id, changes)
    values = dict(changes)
    if "parent_id" in changes:
        parent = None
        if changes["parent_id"] is not None:
            parent = await fetch_owned(unit.conn, NODES, tenant_id, changes["parent_id"])
        _check_parent(current["kind"], parent)
        values["depth"] = await move_in_tree(unit, NODES, tenant_id, current,
                                             changes["parent_id"])
    row = await update(unit.conn, NODES, tenant_id, node_id, values)
    unit.emit(tenant_id, ev.NodeUpdated(
        node_id=node_id, changed=sorted(changes),
        old_parent_id=current["parent_id"] if "parent_id" in changes else None,
        old_category_id=current["category_id"] if "category_id" in changes else None,
    ))
    return row


@write_service("content")
async def publish_node(
    unit: Unit, tenant_id: uuid.UUID, node_id: uuid.UUID | str
) -> dict[str, Any]:
    """Publish a node; `published_at` keeps the first publication time. No-op if published."""
    node_id = parse_id(node_id, "node_id")
    current = await fetch_owned(unit.conn, NODES, tenant_id, node_id, lock=True)
    if current["status"] == "published":
        return current
    row = await update(unit.conn, NODES, tenant_id, node_id, {
        "status": "published", "published_at": current["published_at"] or datetime.now(UTC),
    })
    unit.emit(tenant_id, ev.NodePublished(node_id=node_id, kind=current["kind"]))
    return row


@write_service("content")
async def unpublish_node(
    unit: Unit, tenant_id: uuid.UUID, node_id: uuid.UUID | str, status: str = "draft"
) -> dict[str, Any]:
    """Move a node to `draft` or `archived`. No-op if it already has that status."""
    if status not in ("draft", "archived"):
        raise ValidationFailed("status", "must be 'draft' or 'archived'")
    node_id = parse_id(node_id, "node_id")
    current = await fetch_owned(unit.conn, NODES, tenant_id, node_id, lock=True)
    if current["status"] == status:
        return current
    row = await update(unit.conn, NODES, tenant_id, node_id, {"status": status})
    unit.emit(tenant_id, ev.NodeUnpublished(node_id=node_id, kind=current["kind"],
                                            status=status))
    return row


@write_service("content")
async def set_body(
    unit: Unit, tenant_id: uuid.UUID, node_id: uuid.UUID | str,
    data: BodyInput | Mapping[str, Any],
) -> dict[str, Any]:
    """Create or replace a node's body and its search vector; `BodyUpdated` only on a change."""
    spec = parse_input(BodyInput, data)
    node_id = parse_id(node_id, "node_id")
    await fetch_owned(unit.conn, NODES, tenant_id, node_id, lock=True)
    current = await unit.conn.fetchrow(
        QUERIES["body_get"], tenant_id, node_id)
    if current is not None and not changed_fields(current, spec.model_dump()):
        return dict(current)
    row = await _write_body(unit, tenant_id, node_id, spec)
    unit.emit(tenant_id, ev.BodyUpdated(node_id=node_id))
    return row


@write_service("content")
async def delete_node(
    unit: Unit, tenant_id: uuid.UUID, node_id: uuid.UUID | str
) -> dict[str, Any]:
    """Delete a node and its whole subtree (the foreign key cascades) with one `NodeDeleted`
    per deleted node; returns the root's row."""
    node_id = parse_id(node_id, "node_id")
    await lock_tree(unit.conn, NODES, tenant_id)
    root = await fetch_owned(unit.conn, NODES, tenant_id, node_id, lock=True)
    subtree = await locked_subtree(unit.conn, NODES, tenant_id, node_id)
    await delete(unit.conn, NODES, tenant_id, node_id)
    for row in subtree:
        unit.emit(tenant_id, ev.NodeDeleted(node_id=row["id"], kind=row["kind"],
                                            parent_id=row["parent_id"]))
    return root
