"""RFC 9457 problem+json: the `Problem` exception handlers raise, and the middleware that turns
every error (ours, pydantic's, aiohttp's) into one (pure apart from logging).

Bad input never becomes a 500: validation errors are 422 naming the field, malformed JSON or
query-string syntax 400, oversize bodies 413; only a bug in our code yields 500.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

from core_write.errors import (
    OUTAGES,
    Conflict,
    NotFound,
    RustokError,
    Unavailable,
    ValidationFailed,
)

log = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"
_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large",
           415: "Unsupported Media Type",
           414: "URI Too Long", 422: "Unprocessable Content", 500: "Internal Server Error",
           503: "Service Unavailable"}


class Problem(Exception):
    """An HTTP error answered as application/problem+json."""

    def __init__(self, status: int, detail: str, *, errors: Sequence[dict[str, str]] = (),
                 slug: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)
        self.slug = slug or _TITLES.get(status, "error").lower().replace(" ", "-")
        self.headers = headers or {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": f"https://rustok-search.dev/problems/{self.slug}",
            "title": _TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            doc["instance"] = instance
        if self.errors:
            doc["errors"] = self.errors
        return doc

    def response(self, instance: str | None = None) -> web.Response:
        return web.Response(status=self.status, text=json.dumps(self.body(instance)),
                            content_type=PROBLEM_TYPE, headers=self.headers)


def field_error(field: str, message: str, status: int = 422) -> Problem:
    return Problem(status, f"{field}: {message}", errors=[{"field": field,
                                                           "message": message}])


def _union_member(part: object) -> bool:
    """A location part pydantic adds for the member of a union it tried (a model's class
    name, e.g. `ProductFilter`): our fields and keys are lowercase, never such a name."""
    return isinstance(part, str) and part[:1].isupper() and part.isalnum()


def from_validation(exc: ValidationError, prefix: str = "") -> Problem:
    """Pydantic's report as a 422, one entry per bad field (dotted path; the members of a
    union it tried are left out of the path, and an error both members report is listed
    once)."""
    errors: list[dict[str, str]] = []
    for err in exc.errors(include_url=False):
        path = ".".join(str(part) for part in err["loc"]
                        if part != "__root__" and not _union_member(part))
        field = ".".join(p for p in (prefix, path) if p) or prefix or "body"
        entry = {"field": field, "message": err["msg"]}
        if entry not in errors:
            errors.append(entry)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return Problem(422, detail or "invalid input", errors=errors, slug="validation")


def translate(exc: BaseException) -> Problem | None:
    """Our own and aiohttp's exceptions as problems; None for anything unexpected."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, ValidationError):
        return from_validation(exc)
    if isinstance(exc, ValidationFailed):
        return field_error(exc.field, exc.message.removeprefix(f"{exc.field}: "))
    if isinstance(exc, NotFound):
        return Problem(404, exc.message, slug="not-found")
    if isinstance(exc, Conflict):
        return Problem(409, exc.message, slug="conflict")
    if isinstance(exc, Unavailable | TimeoutError):
        detail = exc.message if isinstance(exc, RustokError) else "the request took too long"
        return Problem(503, detail, slug="unavailable", headers={"Retry-After": "1"})
    if isinstance(exc, OUTAGES):  # a server restarting under us: try again in a moment
        return Problem(503, "a backing service is unavailable; retry shortly",
                       slug="unavailable", headers={"Retry-After": "1"})
    if isinstance(exc, web.HTTPException) and exc.status >= 400:
        detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") \
            else exc.reason
        problem = Problem(exc.status, detail or exc.reason)
        if exc.status == 405 and "Allow" in exc.headers:
            problem.headers["Allow"] = exc.headers["Allow"]
        return problem
    return None


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except asyncio.CancelledError:
        raise
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        problem = translate(exc)
        assert problem is not None
        return problem.response(request.path)
    except Exception as exc:  # noqa: BLE001 - the one place that answers every error
        problem = translate(exc)
        if problem is None:
            log.exception("unhandled error on %s %s", request.method, request.path,
                          extra={"action": "http_error"})
            problem = Problem(500, "internal error; it has been logged", slug="internal")
        return problem.response(request.path)
    return response
