"""GraphQL mutations for orders (admin keys, their own tenant): place (prices the items and
reserves stock), cancel, complete and other status moves (I/O: PostgreSQL through
`core_write`)."""

from __future__ import annotations

import strawberry

from core_write.services import orders
from search_api.graphql.inputs import given, input_type
from search_api.graphql.types import WritePayload
from search_api.graphql.writes import Ctx, record, write

OrderPlaceInput = input_type(orders.OrderPlace)


@strawberry.type
class OrderMutation:
    @strawberry.mutation
    async def place_order(self, info: Ctx,
                          input: OrderPlaceInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, orders.place_order, given(input)))

    @strawberry.mutation
    async def cancel_order(self, info: Ctx, id: strawberry.ID,
                           reason: str | None = None) -> WritePayload:
        return record(await write(info, orders.cancel_order, id, reason))

    @strawberry.mutation
    async def complete_order(self, info: Ctx, id: strawberry.ID) -> WritePayload:
        return record(await write(info, orders.update_order_status, id, "completed"))

    @strawberry.mutation
    async def update_order_status(self, info: Ctx, id: strawberry.ID,
                                  status: str) -> WritePayload:
        """pending → processing → shipped → completed, or cancelled."""
        return record(await write(info, orders.update_order_status, id, status))
