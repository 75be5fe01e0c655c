"""The HTTP connection handler of the API: requests aiohttp's parser refuses are answered as
problem+json without quoting them (I/O: the connection).

aiohttp answers what its parser refuses (an oversized request line or header, too many
headers, a malformed method, Content-Length with Transfer-Encoding, a bad header byte) in
`RequestHandler.handle_error`, before any middleware runs, with a text/plain body that quotes
the offending line, and logs it with a traceback: an `Authorization: Bearer <key>` line would
be reflected to the client and written to the log. aiohttp has no public hook for this
(aio-libs/aiohttp#3287), so `ApiRunner` builds connections of a `RequestHandler` subclass.
It relies on `AppRunner._make_server`, `web.Server._loop`/`_kwargs` and the
`handle_error(request, status, exc, message)` signature: tested on aiohttp 3.14, pinned in
pyproject.toml.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import BadStatusLine, HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from search_api.errors import Problem

log = logging.getLogger(__name__)


def parser_problem(exc: BaseException | None, status: int) -> Problem:
    """The problem for a refused request; the detail names the class of fault only."""
    if isinstance(exc, LineTooLong):
        return Problem(400, "the request line or a header line is too long (limit 8190 bytes)",
                       slug="malformed-request")
    if isinstance(exc, BadStatusLine):
        return Problem(400, "the request line is malformed (method, target or version)",
                       slug="malformed-request")
    if isinstance(exc, HttpProcessingError):
        return Problem(400, "the request is malformed (headers, framing or body)",
                       slug="malformed-request")
    if status == 504:
        return Problem(503, "the request took too long", slug="timeout")
    return Problem(500, "internal error; it has been logged", slug="internal")


class ProblemRequestHandler(RequestHandler):
    """A connection whose low-level error answers are problems that quote nothing."""

    __slots__ = ()

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if isinstance(exc, HttpProcessingError):
            # never log the parser's message: it quotes the line, keys included
            log.warning("refused a malformed request from %s (%s)", request.remote,
                        type(exc).__name__, extra={"action": "http_refused",
                                                   "remote": request.remote})
            if request.writer.output_size > 0:
                raise ConnectionError("a response was sent already")
        else:
            super().handle_error(request, status, exc, message)  # logs, checks the writer
        response = parser_problem(exc, status).response()
        response.force_close()
        return response


class ProblemServer(web.Server):
    """`web.Server` whose connections are `ProblemRequestHandler`s."""

    def __call__(self) -> RequestHandler:
        return ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class ApiRunner(web.AppRunner):
    """`web.AppRunner` serving through `ProblemServer`."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return ProblemServer(server.request_handler, request_factory=server.request_factory,
                             handler_cancellation=server.handler_cancellation,
                             loop=server._loop, **server._kwargs)
