"""The pieces every path of the OpenAPI document is built from: schema references, JSON and
problem responses, query parameters, the security requirement (pure).
"""

from __future__ import annotations

from typing import Any

from core_write.validate import BIGINT_MAX

REF = "#/components/schemas/{model}"

SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]

GET_PROBLEMS = ("400", "401", "403", "414", "422", "503")
"""The problems most reading operations list."""
BODY_PROBLEMS = ("400", "401", "403", "413", "414", "422", "503")
"""The problems most operations that read a body list (413: too large)."""


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def json_response(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


PROBLEMS = {code: {"description": text, "content": {
    "application/problem+json": {"schema": ref("Problem")}}} for code, text in {
    "400": "malformed JSON or query-string syntax", "401": "missing or unknown API key",
    "403": "the key's role or tenant does not allow this",
    "413": "the body is larger than API_MAX_BODY_BYTES", "414": "the query string is too long",
    "415": "the body is not of the media type the operation reads",
    "422": "a parameter is invalid (`errors` names it)",
    "503": "a dependency is unavailable or the request timed out"}.items()}

PROBLEM_SCHEMA = {"type": "object", "required": ["type", "title", "status"], "properties": {
    "type": {"type": "string"}, "title": {"type": "string"},
    "status": {"type": "integer"}, "detail": {"type": "string"},
    "instance": {"type": "string"},
    "errors": {"type": "array", "items": {
        "type": "object", "properties": {
            "field": {"type": "string"},
            "message": {"type": "string"}}}}}}
"""The `Problem` schema of every error response (RFC 9457 with our `errors` list)."""


def problems(*codes: str) -> dict[str, Any]:
    return {code: PROBLEMS[code] for code in codes}


def param(name: str, description: str, schema: dict[str, Any] | None = None,
          required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


def list_param(name: str, description: str, items: dict[str, Any], max_items: int,
               unique: bool = False) -> dict[str, Any]:
    """A list given comma-separated (`a,b`) or repeated (`x=a&x=b`), at least one value
    (`x=` is refused: it cannot be told from a list of one empty value)."""
    schema = {"type": "array", "items": items, "minItems": 1, "maxItems": max_items}
    if unique:
        schema["uniqueItems"] = True
    return param(name, description, schema) | {"style": "form", "explode": False}


def integer(low: int, high: int = BIGINT_MAX) -> dict[str, Any]:
    """An integer in a query string: ASCII digits, no sign, no leading zero."""
    return {"type": "integer", "minimum": low, "maximum": high}


def int_param(name: str, description: str, low: int, high: int = BIGINT_MAX,
              ) -> dict[str, Any]:
    return param(name, description, integer(low, high))
