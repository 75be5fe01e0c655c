"""GraphQL mutations for the rest of the editorial model (admin keys, their own tenant):
users, SEO meta, media records, tag maintenance, node unpublish and delete (I/O:
PostgreSQL through `core_write`)."""

from __future__ import annotations

import strawberry

from core_write.services import content, media, seo, taxonomy, users
from search_api.graphql.inputs import given, input_type
from search_api.graphql.types import NodePayload, WritePayload
from search_api.graphql.writes import Ctx, node_payload, record, write

UserCreateInput = input_type(users.UserCreate)
UserUpdateInput = input_type(users.UserUpdate)
MetaInput = input_type(seo.MetaInput)
MediaCreateInput = input_type(media.MediaCreate)
TagUpdateInput = input_type(taxonomy.TagUpdate)


@strawberry.type
class EditorialMutation:
    @strawberry.mutation
    async def create_user(self, info: Ctx,
                          input: UserCreateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, users.create_user, given(input)))

    @strawberry.mutation
    async def update_user(self, info: Ctx, id: strawberry.ID,
                          input: UserUpdateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, users.update_user, id, given(input)))

    @strawberry.mutation
    async def set_meta(self, info: Ctx, target_type: str, target_id: strawberry.ID,
                       input: MetaInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, seo.set_meta, target_type, target_id, given(input)))

    @strawberry.mutation
    async def create_media(self, info: Ctx,
                           input: MediaCreateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, media.create_media, given(input)))

    @strawberry.mutation
    async def update_tag(self, info: Ctx, id: strawberry.ID,
                         input: TagUpdateInput) -> WritePayload:  # type: ignore[valid-type]
        return record(await write(info, taxonomy.update_tag, id, given(input)))

    @strawberry.mutation
    async def detach_tag(self, info: Ctx, tag_id: strawberry.ID, target_type: str,
                         target_id: strawberry.ID) -> WritePayload:
        return record(await write(info, taxonomy.detach_tag, tag_id, target_type, target_id))

    @strawberry.mutation
    async def unpublish_node(self, info: Ctx, id: strawberry.ID,
                             status: str = "draft") -> NodePayload:
        return node_payload(await write(info, content.unpublish_node, id, status))

    @strawberry.mutation
    async def delete_node(self, info: Ctx, id: strawberry.ID) -> WritePayload:
        return record(await write(info, content.delete_node, id))
