"""Events of content: nodes, their bodies, categories, tags, meta and media (pure)."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from core_write.events.base import Event


class NodeEvent(Event):
    aggregate_type: ClassVar[str] = "node"
    aggregate_field: ClassVar[str] = "node_id"
    node_id: uuid.UUID


class NodeCreated(NodeEvent):
    type: Literal["NodeCreated"] = "NodeCreated"
    kind: str
    author_id: uuid.UUID | None = None
    parent_id: uuid.UUID | None = None


class NodeUpdated(NodeEvent):
    """`old_parent_id`/`old_category_id` let a consumer refresh what the node left."""

    type: Literal["NodeUpdated"] = "NodeUpdated"
    changed: list[str] = Field(default_factory=list)
    old_parent_id: uuid.UUID | None = None
    old_category_id: uuid.UUID | None = None


class NodePublished(NodeEvent):
    type: Literal["NodePublished"] = "NodePublished"
    kind: str


class NodeUnpublished(NodeEvent):
    type: Literal["NodeUnpublished"] = "NodeUnpublished"
    kind: str
    status: str


class NodeDeleted(NodeEvent):
    type: Literal["NodeDeleted"] = "NodeDeleted"
    kind: str
    parent_id: uuid.UUID | None = None


class BodyUpdated(NodeEvent):
    type: Literal["BodyUpdated"] = "BodyUpdated"


class CategoryEvent(Event):
    aggregate_type: ClassVar[str] = "category"
    aggregate_field: ClassVar[str] = "category_id"
    category_id: uuid.UUID


class CategoryCreated(CategoryEvent):
    type: Literal["CategoryCreated"] = "CategoryCreated"


class CategoryUpdated(CategoryEvent):
    """A rename or move: every node in the category changes its document."""

    type: Literal["CategoryUpdated"] = "CategoryUpdated"
    changed: list[str]


class CategoryDeleted(CategoryEvent):
    type: Literal["CategoryDeleted"] = "CategoryDeleted"


class TagEvent(Event):
    aggregate_type: ClassVar[str] = "tag"
    aggregate_field: ClassVar[str] = "tag_id"
    tag_id: uuid.UUID


class TagCreated(TagEvent):
    type: Literal["TagCreated"] = "TagCreated"


class TagUpdated(TagEvent):
    """A rename: every tagged target changes its document."""

    type: Literal["TagUpdated"] = "TagUpdated"
    changed: list[str]


class TagDeleted(TagEvent):
    type: Literal["TagDeleted"] = "TagDeleted"


class TagAttached(TagEvent):
    type: Literal["TagAttached"] = "TagAttached"
    target_type: str
    target_id: uuid.UUID


class TagDetached(TagEvent):
    type: Literal["TagDetached"] = "TagDetached"
    target_type: str
    target_id: uuid.UUID


class MetaEvent(Event):
    aggregate_type: ClassVar[str] = "meta"
    aggregate_field: ClassVar[str] = "target_id"
    target_type: str
    target_id: uuid.UUID


class MetaUpdated(MetaEvent):
    type: Literal["MetaUpdated"] = "MetaUpdated"


class MetaDeleted(MetaEvent):
    type: Literal["MetaDeleted"] = "MetaDeleted"


class MediaEvent(Event):
    aggregate_type: ClassVar[str] = "media"
    aggregate_field: ClassVar[str] = "media_id"
    media_id: uuid.UUID


class MediaCreated(MediaEvent):
    type: Literal["MediaCreated"] = "MediaCreated"


class MediaUpdated(MediaEvent):
    type: Literal["MediaUpdated"] = "MediaUpdated"


class MediaDeleted(MediaEvent):
    type: Literal["MediaDeleted"] = "MediaDeleted"
