"""A plain-HTTP GraphQL client for the tests: POST (or GET for queries) to `/graphql` with
`Authorization: Bearer`, exactly as a Node, Rust or Go client would."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient


async def gql(client: TestClient[Any, Any], key: str | None, query: str,
              variables: dict[str, Any] | None = None, *, method: str = "POST",
              status: int = 200) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if method == "GET":
        params = {"query": query}
        if variables:
            params["variables"] = json.dumps(variables)
        resp = await client.get("/graphql", params=params, headers=headers)
    else:
        resp = await client.post("/graphql", json={"query": query, "variables": variables},
                                 headers=headers)
    assert resp.status == status, await resp.text()
    body: dict[str, Any] = await resp.json(content_type=None)
    return body


def data(body: dict[str, Any]) -> Any:
    assert not body.get("errors"), body["errors"]
    return body["data"]


def codes(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(code, field) of each error."""
    return [(e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]]
