"""The federated GraphQL schema (Apollo Federation v2: `_service { sdl }` and `_entities` for
`Product` and `Node`) with its limits, and the aiohttp view that serves it at `/graphql`
(I/O: HTTP). Keys are checked by the app's auth middleware exactly as for `/v1/`."""

from __future__ import annotations

from functools import cache

import strawberry
from aiohttp import web
from cross_web import HTTPException
from graphql.error import GraphQLError
from strawberry.aiohttp.views import GraphQLView
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.http import GraphQLHTTPResponse
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, ExecutionResult

from search_api.auth import current_key
from search_api.errors import Problem
from search_api.graphql.changes import ChangeMutation
from search_api.graphql.editorial import EditorialMutation
from search_api.graphql.errors import typed
from search_api.graphql.orders import OrderMutation
from search_api.graphql.reads import Context, Query
from search_api.graphql.types import Node, Product
from search_api.graphql.writes import Mutation as CatalogMutation

MAX_DEPTH = 8
MAX_TOKENS = 2000
MAX_ALIASES = 20
CACHED_DOCUMENTS = 256
PATH = "/graphql"


class Schema(strawberry.federation.Schema):
    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        """Expected errors (bad input, a missing entity) are answers, not incidents: only
        the unexpected ones are logged, by `typed`."""


@cache
def build_schema() -> Schema:
    mutation = merge_types("Mutation", (CatalogMutation, EditorialMutation, OrderMutation,
                                        ChangeMutation))
    return Schema(
        query=Query, mutation=mutation, types=[Product, Node],
        extensions=[lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
                    lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
                    lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
                    # a storefront repeats a few documents: parse and validate each once
                    lambda: ParserCache(maxsize=CACHED_DOCUMENTS),
                    lambda: ValidationCache(maxsize=CACHED_DOCUMENTS)])


def sdl() -> str:
    """The subgraph SDL a gateway composes (what `_service { sdl }` answers)."""
    return str(build_schema().as_str())


class View(GraphQLView[Context, None]):
    """Queries by GET (persisted-query friendly) or POST, mutations by POST only; no IDE.
    Transport errors (a mutation by GET, a body that is not GraphQL) are problem+json."""

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self.run(request=request)
        except HTTPException as exc:
            raise Problem(exc.status_code, exc.reason, slug="graphql-request") from None

    async def process_result(self, request: web.Request,
                             result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = [typed(error) for error in result.errors]
        return await super().process_result(request, result)

    async def get_context(self, request: web.Request,
                          response: web.StreamResponse) -> Context:
        return Context(request=request, key=current_key(request))


def add_graphql(app: web.Application) -> None:
    app.router.add_route("GET", PATH, View(schema=build_schema(), graphql_ide=None))
    app.router.add_route("POST", PATH, View(schema=build_schema(), graphql_ide=None))
