"""Events of orders (pure)."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from core_write.events.base import Event


class OrderEvent(Event):
    aggregate_type: ClassVar[str] = "order"
    aggregate_field: ClassVar[str] = "order_id"
    order_id: uuid.UUID


class OrderPlaced(OrderEvent):
    type: Literal["OrderPlaced"] = "OrderPlaced"
    customer_id: uuid.UUID | None = None
    total: int


class OrderUpdated(OrderEvent):
    type: Literal["OrderUpdated"] = "OrderUpdated"
    changed: list[str]


class OrderStatusChanged(OrderEvent):
    type: Literal["OrderStatusChanged"] = "OrderStatusChanged"
    old_status: str
    new_status: str


class OrderCompleted(OrderEvent):
    type: Literal["OrderCompleted"] = "OrderCompleted"


class OrderCancelled(OrderEvent):
    type: Literal["OrderCancelled"] = "OrderCancelled"
    reason: str | None = None


class OrderDeleted(OrderEvent):
    type: Literal["OrderDeleted"] = "OrderDeleted"
