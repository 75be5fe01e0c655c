"""Typed errors as GraphQL errors: every error carries `extensions.code` (and `field`, the
path of the bad input, where one is known); anything unexpected is logged and answered as
INTERNAL without its message, so internals never leak (pure apart from logging). Applied to
every result the view answers, whichever phase (parse, validation, execution) failed."""

from __future__ import annotations

import logging
from typing import Any

from graphql.error import GraphQLError
from pydantic import ValidationError

from core_write.errors import (
    AuthenticationFailed,
    Conflict,
    ModuleDisabled,
    NotFound,
    RustokError,
    TenantMismatch,
    Unavailable,
    ValidationFailed,
)
from search_api.errors import Problem

log = logging.getLogger(__name__)
PROBLEM_CODES = {400: "VALIDATION", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
                 409: "CONFLICT", 413: "VALIDATION", 414: "VALIDATION", 422: "VALIDATION",
                 503: "UNAVAILABLE"}


def classify(exc: BaseException) -> tuple[str, str, str | None] | None:
    """(code, message, field) of an error we raise on purpose; None for anything else."""
    if isinstance(exc, Problem):
        field = exc.errors[0]["field"] if exc.errors else None
        return PROBLEM_CODES.get(exc.status, "INTERNAL"), exc.detail, field
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        return "VALIDATION", f"{field}: {first['msg']}" if field else first["msg"], field
    if isinstance(exc, ValidationFailed):
        return "VALIDATION", exc.message, exc.field
    if isinstance(exc, NotFound | TenantMismatch):  # another tenant's entity does not exist
        entity = getattr(exc, "entity", "entity")
        return "NOT_FOUND", f"{entity} not found", None
    if isinstance(exc, Conflict):
        return "CONFLICT", exc.message, exc.field
    if isinstance(exc, ModuleDisabled):
        return "MODULE_DISABLED", exc.message, None
    if isinstance(exc, AuthenticationFailed):
        return "FORBIDDEN", exc.message, None
    if isinstance(exc, Unavailable | TimeoutError):
        return "UNAVAILABLE", "a dependency is unavailable; retry", None
    if isinstance(exc, RustokError):
        return "INTERNAL", exc.message, None
    return None


def typed(error: GraphQLError) -> GraphQLError:
    """The error as clients see it: our message and code, or INTERNAL for a bug."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        # a syntax, validation or limit error of the document itself
        return _with(error, error.message, {"code": "GRAPHQL_VALIDATION"})
    known = classify(original)
    if known is None:
        log.error("unhandled error in GraphQL field %s", ".".join(map(str, error.path or [])),
                  exc_info=original, extra={"action": "graphql_error"})
        return _with(error, "internal error; it has been logged", {"code": "INTERNAL"})
    code, message, field = known
    extensions: dict[str, Any] = {"code": code}
    if field:
        extensions["field"] = field
    return _with(error, message, extensions)


def _with(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(message, nodes=error.nodes, source=error.source,
                        positions=error.positions, path=error.path, original_error=None,
                        extensions=extensions)
