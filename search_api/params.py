"""GET query strings → the dict a `SearchQuery` validates (pure).

`filter[categories]=a,b` and `filter.categories=a,b` are the same; nesting goes one level
deeper for ranges (`filter[price][min]=100`, `filter.published.gte=...`). List fields and
`facets` split on commas and may repeat. Unknown parameters are rejected (422), so nothing
like `tenant=` can slip through; malformed names or repeated scalars are a 400.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from search_api.errors import Problem, field_error

SCALARS = frozenset({"q", "sort", "currency", "page", "per_page", "highlight"})
LISTS = frozenset({"facets", "price_buckets"})
FILTER_LISTS = frozenset({"categories", "tags", "kind", "author", "status"})
CONTROL = frozenset({"min_token"})
_BRACKETS = re.compile(r"^filter((?:\[[a-z_]{1,32}\]){1,2})$")
_DOTTED = re.compile(r"^filter((?:\.[a-z_]{1,32}){1,2})$")


def _split(values: Iterable[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def filter_path(name: str) -> list[str] | None:
    """`filter[a][b]` / `filter.a.b` → ["a", "b"]; None if `name` is not a filter name."""
    if not name.startswith("filter"):
        return None
    match = _BRACKETS.match(name)
    if match:
        return match.group(1)[1:-1].split("][")
    match = _DOTTED.match(name)
    if match:
        return match.group(1)[1:].split(".")
    raise Problem(400, f"malformed filter parameter {name!r}: use filter[field]=... or "
                       "filter.field=...", errors=[{"field": name[:64],
                                                    "message": "malformed name"}])


def parse_search_params(items: Iterable[tuple[str, str]]) -> tuple[dict[str, Any], int | None]:
    """Query-string pairs → (SearchQuery data without doc_type, min_token or None)."""
    grouped: dict[str, list[str]] = {}
    for name, value in items:
        grouped.setdefault(name, []).append(value)
    data: dict[str, Any] = {}
    token: int | None = None
    filters: dict[str, Any] = {}
    for name, values in grouped.items():
        if name in SCALARS or name in CONTROL:
            if len(values) > 1:
                raise field_error(name, "given more than once", status=400)
            if name == "min_token":
                token = parse_token(values[0])
            elif name == "highlight":
                data[name] = parse_bool(name, values[0])
            else:
                data[name] = values[0]
        elif name in LISTS:
            data[name] = _split(values)
        else:
            path = filter_path(name)
            if path is None:
                raise field_error(name[:64], "unknown parameter")
            _set_filter(filters, path, values, name)
    if filters:
        data["filter"] = filters
    return data, token


def _set_filter(filters: dict[str, Any], path: list[str], values: list[str],
                name: str) -> None:
    head = path[0]
    if len(path) == 1:
        if head in filters:
            raise field_error(name, "given twice (as filter[x] and filter.x)", status=400)
        if head in FILTER_LISTS:
            filters[head] = _split(values)
        elif len(values) > 1:
            raise field_error(name, "given more than once", status=400)
        else:
            filters[head] = values[0]
        return
    nested = filters.setdefault(head, {})
    if not isinstance(nested, dict):
        raise field_error(name, f"filter.{head} is not an object", status=400)
    if path[1] in nested or len(values) > 1:
        raise field_error(name, "given more than once", status=400)
    nested[path[1]] = values[0]


def parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on", ""}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise field_error(name, "must be true or false")


def parse_token(value: Any, field: str = "min_token") -> int:
    """A consistency token: the outbox position a write returned (a positive integer)."""
    if isinstance(value, bool):
        raise field_error(field, "must be a positive integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 19:
        number = int(value.strip())
    else:
        raise field_error(field, "must be a positive integer")
    if not 1 <= number < 2**63:
        raise field_error(field, "must be a positive integer")
    return number
