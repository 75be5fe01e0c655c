"""GET query strings → the dict a `SearchQuery` validates (pure).

`filter[categories]=a,b` and `filter.categories=a,b` are the same; nesting goes one level
deeper for ranges (`filter[price][min]=100`, `filter.published.gte=...`). List fields and
`facets` split on commas and may repeat; no part may be empty. Unknown parameters are
rejected (422), so nothing like `tenant=` can slip through; malformed names or repeated
scalars are a 400.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from search_api.errors import Problem, field_error
from search_api.value_types import TOKEN_MAX, TOKEN_MIN, schema_regex

SCALARS = frozenset({"q", "sort", "currency", "page", "per_page", "highlight", "locale"})
INTEGERS = frozenset({"page", "per_page"})
FILTER_INTEGERS = frozenset({("price", "min"), ("price", "max")})
INTEGER = r"^(?:0|[1-9][0-9]{0,18})$"
"""A query-string integer: ASCII digits, no sign, no leading zero (values stay strings where
the document says string)."""
BOOLEAN = (r"^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo]|[Oo][Nn]"
           r"|[Oo][Ff][Ff]|1|0)?$")
"""A query-string flag: true/false, yes/no, on/off (any case), 1/0; empty means true."""
LISTS = frozenset({"facets", "price_buckets"})
FILTER_LISTS = frozenset({"categories", "tags", "kind", "author", "status", "options"})
CONTROL = frozenset({"min_token"})
_INTEGER = schema_regex(INTEGER)
_BOOLEAN = schema_regex(BOOLEAN)
_BRACKETS = re.compile(r"^filter((?:\[[a-z_]{1,32}\]){1,2})$")
_DOTTED = re.compile(r"^filter((?:\.[a-z_]{1,32}){1,2})$")


def split_list(name: str, values: Iterable[str]) -> list[str]:
    """`a,b` (or the parameter repeated) → ["a", "b"]; every part must have a value, so an
    empty list or `a,,b` is refused (the document sets minItems 1)."""
    parts = [part.strip() for value in values for part in value.split(",")]
    if not all(parts):
        raise field_error(name, "empty value (a list needs at least one, none blank)")
    return parts


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
            elif name in INTEGERS:
                data[name] = parse_int(values[0], name)
            else:
                data[name] = values[0]
        elif name == "price_buckets":
            data[name] = [parse_int(part, name) for part in split_list(name, values)]
        elif name in LISTS:
            data[name] = split_list(name, values)
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
            filters[head] = split_list(name, values)
        elif len(values) > 1:
            raise field_error(name, "given more than once", status=400)
        elif head == "has_stock":
            filters[head] = parse_bool(name, values[0])
        else:
            filters[head] = values[0]
        return
    nested = filters.setdefault(head, {})
    if not isinstance(nested, dict):
        raise field_error(name, f"filter.{head} is not an object", status=400)
    if path[1] in nested or len(values) > 1:
        raise field_error(name, "given more than once", status=400)
    nested[path[1]] = parse_int(values[0], name) if (head, path[1]) in FILTER_INTEGERS \
        else values[0]


def parse_bool(name: str, value: str) -> bool:
    if not _BOOLEAN.match(value):
        raise field_error(name, "must be true or false")
    return value.lower() in {"", "1", "true", "yes", "on"}


def parse_int(value: str, field: str, low: int | None = None, high: int | None = None) -> int:
    """A decimal integer parameter (ASCII digits only), optionally between `low` and `high`
    (else the model checks its range)."""
    if not _INTEGER.match(value) or (low is not None and int(value) < low) or \
            (high is not None and int(value) > high):
        bounds = f" between {low} and {high}" if low is not None else ""
        raise field_error(field, f"must be a non-negative integer{bounds} (ASCII digits)")
    return int(value)


def parse_token(value: Any, field: str = "min_token", *, text: bool = True) -> int:
    """A consistency token: the outbox position a write returned (a positive integer), from a
    query string (`text`: ASCII digits) or a JSON body (an integer; `3.0` counts)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif text and isinstance(value, str) and _INTEGER.match(value):
        number = int(value)
    else:
        raise field_error(field, "must be a positive integer")
    if not TOKEN_MIN <= number <= TOKEN_MAX:
        raise field_error(field, "must be a positive integer")
    return number
