"""What a write may contain (pure): text and JSON limits (README "Limits"), characters PostgreSQL
cannot store, ids, ISO 4217 codes and the one slug rule, as field types for the services' input
models, `check_input` for raw arguments (run by `unit.write_service`) and `parse_input`."""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable, Mapping
from functools import cache
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    SecretStr,
    StringConstraints,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from core_write.currencies import ISO_4217
from core_write.errors import InvalidId, ValidationFailed
from core_write.ids import parse_id

M = TypeVar("M", bound=BaseModel)

NAME_MAX = 255
"""Characters of a title, name or label (their columns are VARCHAR(255))."""
DESCRIPTION_MAX_BYTES = 64 * 1024
"""UTF-8 bytes of a description or excerpt."""
BODY_MAX_BYTES = 256 * 1024
"""UTF-8 bytes of a content body: its search vector stays well under PostgreSQL's 1 MB
tsvector limit whatever the words."""
JSON_MAX_BYTES = 64 * 1024
"""UTF-8 bytes of one JSON value (metadata, settings, addresses, structured data), serialized."""
JSON_MAX_DEPTH = 16
"""Levels of nesting of one JSON value (`{}` is one level, `{"a": []}` two)."""
URL_MAX = 2048
"""Characters of a URL (a product thumbnail: VARCHAR(2048))."""
TAG_SLUG_MAX, TENANT_SLUG_MAX = 100, 64
"""Characters of a tag slug (VARCHAR(100)) and of a tenant slug (it names the tenant in URLs
and keys)."""
INPUT_MAX_DEPTH = 32
"""Levels of nesting of a whole service argument (a data mapping holding JSON values)."""

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
"""The range of an `integer` column."""
BIGINT_MAX = 2**63 - 1
"""The largest `bigint` (amounts, sizes)."""

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
"""The one slug rule (tenant slugs, category and tag slugs, node slugs, product and category
handles): lowercase ASCII letters and digits, '-' inside."""


# ---- characters and nesting ----------------------------------------------------------------
def text_problem(value: str) -> str | None:
    """Why PostgreSQL cannot store this text, or None: a NUL (text and jsonb refuse it) or an
    unpaired surrogate (no UTF-8 encoding)."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (not valid Unicode)"
    return None


def check_text(value: str, field: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValidationFailed(field, problem)
    return value


def check_input(value: Any, field: str) -> None:
    """Walk a service argument (mappings, sequences, models, secrets) and refuse, naming the
    path (`metadata.a.0`), any text PostgreSQL cannot store or nesting beyond
    `INPUT_MAX_DEPTH`. Iterative, so a hostile depth cannot exhaust the stack."""
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, SecretStr):
            item = item.get_secret_value()
        if isinstance(item, str):
            check_text(item, path)
            continue
        if isinstance(item, BaseModel):
            item = dict(item)
        if isinstance(item, Mapping):
            children = [(v, _join(path, k)) for k, v in item.items()]
            for key in item:
                if isinstance(key, str):
                    check_text(key, _join(path, "<key>"))
        elif isinstance(item, list | tuple):
            children = [(v, _join(path, i)) for i, v in enumerate(item)]
        else:
            continue
        if depth >= INPUT_MAX_DEPTH:
            raise ValidationFailed(path, f"nested deeper than {INPUT_MAX_DEPTH} levels")
        stack.extend((child, child_path, depth + 1) for child, child_path in children)


def _join(path: str, part: object) -> str:
    return f"{path}.{part}" if path else str(part)


# ---- field types ---------------------------------------------------------------------------
def max_bytes(limit: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        if len(value.encode("utf-8", "surrogatepass")) > limit:
            raise ValueError(f"longer than {limit} bytes (UTF-8)")
        return value
    return check


def check_json(value: dict[str, Any]) -> dict[str, Any]:
    """A JSON object PostgreSQL's jsonb takes and the documents can carry: JSON types only
    (string keys, finite numbers), at most `JSON_MAX_DEPTH` levels and `JSON_MAX_BYTES`."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list) and depth > JSON_MAX_DEPTH:
            raise ValueError(f"nested deeper than {JSON_MAX_DEPTH} levels")
        if isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                raise ValueError("object keys must be strings")
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("numbers must be finite (no NaN or Infinity in JSON)")
        elif item is not None and not isinstance(item, str | int | float | bool):
            raise ValueError(f"not a JSON value: {type(item).__name__}")
    size = len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if size > JSON_MAX_BYTES:
        raise ValueError(f"longer than {JSON_MAX_BYTES} bytes as JSON")
    return value


@cache
def currency_codes() -> frozenset[str]:
    """Every ISO 4217 alphabetic code (core_write/currencies.py: the list the database's
    `currencies` table and the engines' price fields hold too)."""
    return frozenset(ISO_4217)


def check_currency(value: str) -> str:
    if value not in currency_codes():
        raise ValueError("not an ISO 4217 currency code (three capital letters, e.g. EUR)")
    return value


def check_slug(value: str) -> str:
    if not SLUG_RE.match(value):
        raise ValueError("must be lowercase letters, digits and inner '-'")
    return value


def check_http_url(value: str) -> str:
    """An absolute http(s) URL with a host, no spaces or control characters."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must be a URL without spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


def slugify(name: str, limit: int = NAME_MAX) -> str:
    """A slug derived from a display name: 'Rust & Go!' → 'rust-go' ('' if nothing is left)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:limit].rstrip("-")


def _to_id(value: object) -> uuid.UUID:
    try:
        return parse_id(value)
    except InvalidId:
        raise PydanticCustomError("invalid_id", "not a ULID or UUID: {value}",
                                  {"value": repr(value)[:100]}) from None


Id = Annotated[uuid.UUID, BeforeValidator(_to_id)]
"""An input id given as a UUID, UUID text or ULID text; a bad one is `InvalidId` naming its
field (`parse_input`)."""
IdLike = uuid.UUID | str
"""An id argument of a service (parsed with `core_write.ids.parse_id`)."""
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX)]
"""A required title, name or label."""
Description = Annotated[str, AfterValidator(max_bytes(DESCRIPTION_MAX_BYTES))]
Body = Annotated[str, AfterValidator(max_bytes(BODY_MAX_BYTES))]
JsonObject = Annotated[dict[str, Any], AfterValidator(check_json)]
Currency = Annotated[str, StringConstraints(min_length=3, max_length=3),
                     AfterValidator(check_currency)]
Slug = Annotated[str, StringConstraints(max_length=NAME_MAX), AfterValidator(check_slug)]
HttpUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=URL_MAX),
                    AfterValidator(check_http_url)]
"""An absolute http(s) URL (a product thumbnail), at most `URL_MAX` characters."""
"""A slug or handle (the one rule: `SLUG_RE`)."""
TagSlug = Annotated[str, StringConstraints(max_length=TAG_SLUG_MAX), AfterValidator(check_slug)]
TenantSlug = Annotated[str, StringConstraints(max_length=TENANT_SLUG_MAX),
                       AfterValidator(check_slug)]


# ---- parsing -------------------------------------------------------------------------------
def parse_input(model: type[M], data: M | Mapping[str, Any] | None = None, **fields: Any) -> M:
    """Validate service input; pydantic's error becomes `ValidationFailed` naming the field."""
    if isinstance(data, model) and not fields:
        return data
    raw: dict[str, Any] = {}
    if isinstance(data, BaseModel):
        raw.update(data.model_dump(exclude_unset=True))
    elif isinstance(data, Mapping):
        raw.update(data)
    elif data is not None:
        raise ValidationFailed(model.__name__, f"must be an object, not {type(data).__name__}")
    raw.update(fields)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or model.__name__
        if first["type"] == "invalid_id":
            raise InvalidId(field, first["input"]) from None
        raise ValidationFailed(field, first["msg"]) from None


def given(spec: BaseModel, nullable: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The fields the caller set, refusing an explicit null for a column that needs a value."""
    values = {name: getattr(spec, name) for name in spec.model_fields_set}
    for name, value in values.items():
        if value is None and name not in nullable:
            raise ValidationFailed(name, "may not be null")
    return values
