"""Requests aiohttp's HTTP parser refuses, sent over a raw socket to a real `rustok-search api`
process: each is answered as a problem+json 4xx, and neither the answer nor the log quotes the
request (a bearer key must never be reflected)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from core_write.settings import Settings
from core_write.unit import CoreWrite
from search_api.auth import create_key
from tests.api_process import ApiProcess, api_process
from tests.builders import make_tenant

PATH = b"/v1/search/products"


@pytest.fixture
async def served(settings: Settings, core: CoreWrite) -> AsyncIterator[tuple[ApiProcess, str]]:
    tenant = await make_tenant(core)
    key, _ = await create_key(core.pool, tenant["slug"], "search")
    async with api_process(settings) as api:
        yield api, key


async def exchange(api: ApiProcess, raw: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
    """Send `raw`, read until the server closes: (status, headers, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
    try:
        writer.write(raw)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    headers = {name.strip().lower(): value.strip()
               for name, _, value in (line.partition(b":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def requests(key: str) -> dict[str, bytes]:
    auth = b"Authorization: Bearer " + key.encode()
    return {
        "oversized header": b"GET " + PATH + b" HTTP/1.1\r\nHost: x\r\n" + auth
        + b"x" * 9000 + b"\r\n\r\n",
        "oversized request line": b"GET " + PATH + b"?q=" + b"a" * 9000 + b" HTTP/1.1\r\n"
        b"Host: x\r\n" + auth + b"\r\n\r\n",
        "too many headers": b"GET " + PATH + b" HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n"
        + b"".join(b"X-H%d: 1\r\n" % i for i in range(200)) + b"\r\n",
        "unknown method": b"BREW " + PATH + b" HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n\r\n",
        "malformed method": b"GE{T " + PATH + b" HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n\r\n",
        "content-length with transfer-encoding": b"POST " + PATH + b" HTTP/1.1\r\nHost: x\r\n"
        + auth + b"\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "control byte in the key": b"GET " + PATH + b" HTTP/1.1\r\nHost: x\r\n" + auth
        + b"\x01\r\n\r\n",
    }


@pytest.mark.slow
async def test_parser_refusals_are_problems_that_quote_nothing(
    served: tuple[ApiProcess, str]
) -> None:
    api, key = served
    for name, raw in requests(key).items():
        status, headers, body = await exchange(api, raw)
        assert status == 400, (name, status, body)
        assert headers[b"content-type"].startswith(b"application/problem+json"), name
        problem = json.loads(body)
        assert problem["status"] == 400 and problem["type"].endswith("/malformed-request")
        assert key.encode() not in body and key[4:12].encode() not in body, name
    assert not [entry for entry in api.logs if key[4:12] in json.dumps(entry)]


@pytest.mark.slow
async def test_a_method_the_route_lacks_is_a_405_problem(
    served: tuple[ApiProcess, str]
) -> None:
    api, key = served
    status, headers, body = await exchange(
        api, b"PATCH " + PATH + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\n\r\n")
    assert status == 405 and headers[b"content-type"].startswith(b"application/problem+json")
    assert json.loads(body)["status"] == 405 and key.encode() not in body
    assert b"GET" in headers[b"allow"]
