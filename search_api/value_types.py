"""The validated value types a search request is built from (currencies, amounts, tag and
option names, date bounds, consistency tokens) and the strict frozen base of the search models
(pure).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    WithJsonSchema,
)

from core_write.currencies import ISO_4217
from core_write.validate import BIGINT_MAX

_ISO_4217 = frozenset(ISO_4217)


def _iso_currency(value: str) -> str:
    if value not in _ISO_4217:
        raise ValueError("must be an ISO 4217 currency code (e.g. EUR)")
    return value


CURRENCY_SCHEMA: dict[str, Any] = {"type": "string", "enum": list(ISO_4217),
                                   "description": "an ISO 4217 currency code"}
Currency = Annotated[str, AfterValidator(_iso_currency), WithJsonSchema(CURRENCY_SCHEMA)]
"""The currencies a price may be in, filtered, sorted and faceted by: the same list on the
write side, in the `currencies` table and in every engine's price fields."""
NO_NUL = r"^[^\x00]*$"
"""Text PostgreSQL can hold: no NUL character (`q`, tag names)."""


def _integral(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer; "3", true and 3.5 stay refused (Strict)
    return int(value) if isinstance(value, float) and value.is_integer() else value


INTEGRAL = BeforeValidator(_integral)
"""With `Strict()`: an integer as the document says, a JSON integer (or integral number),
never a string or a boolean (query strings are parsed to integers by `params` first); the
bounds go before it, so the schema shows them as minimum/maximum."""
Boolean = Annotated[bool, Strict()]
Amount = Annotated[int, Strict(), Ge(0), Le(BIGINT_MAX), INTEGRAL]
"""Minor units as stored (a PostgreSQL bigint): 0 to 2^63-1."""
Bucket = Annotated[int, Strict(), Ge(1), Le(BIGINT_MAX), INTEGRAL]
TagName = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
OPTION_VALUE = r"^[^:\x00]+:[^\x00]+$"
"""An option facet value: the option's name, ':', the value ("Colour:red")."""
OptionValue = Annotated[str, Field(min_length=3, max_length=511, pattern=OPTION_VALUE)]
DATE_YEARS = (1700, 2199)
"""Dates a filter may name (as written, any offset): inside what every backend represents
(Tantivy stores i64 nanoseconds: 1677-09-21 to 2262-04-11)."""
_DAY = (r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
        r"|(?:0[13578]|1[02])-31)")
_LEAP = r"(?:(?:1[7-9]|2[01])(?:0[48]|[2468][048]|[13579][26])|2000)"
DATE_TIME = (rf"^(?:(?:1[7-9]|2[01])\d\d-{_DAY}|{_LEAP}-02-29)"
             r"T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$")
"""An RFC 3339 date-time with an offset (`2024-01-31T00:00:00Z`), years 1700-2199: the
document publishes this very pattern, so it and the code accept the same strings."""

TOKEN_MIN, TOKEN_MAX = 1, BIGINT_MAX
"""The range of a consistency token (an outbox position); `params.parse_token` and the
OpenAPI parameter use the same bounds."""
MIN_TOKEN_DESCRIPTION = ("consistency token of a write: wait (up to 2 s) until it is "
                         "indexed, else answer with `stale: true`")
Token = Annotated[int, Strict(), Ge(TOKEN_MIN), Le(TOKEN_MAX), INTEGRAL]


def schema_regex(pattern: str) -> re.Pattern[str]:
    """A JSON Schema (ECMA-262) pattern for Python's `re`, whose `$` would also match before
    a final newline (our patterns use `$` only as the end anchor)."""
    return re.compile(pattern.replace("$", r"\Z"))


_DATE_TIME_RE = schema_regex(DATE_TIME)


def _date_bound(value: Any) -> Any:
    if isinstance(value, str) and _DATE_TIME_RE.match(value):
        return value
    if isinstance(value, datetime) and value.tzinfo is not None and \
            DATE_YEARS[0] <= value.year <= DATE_YEARS[1]:
        return value
    raise ValueError(f"must be an RFC 3339 date-time with an offset, years "
                     f"{DATE_YEARS[0]}-{DATE_YEARS[1]} (e.g. 2024-01-31T00:00:00Z)")


DateBound = Annotated[AwareDatetime, BeforeValidator(_date_bound),
                      WithJsonSchema({"type": "string", "pattern": DATE_TIME,
                                      "description": "RFC 3339 date-time with an offset, "
                                                     "years 1700-2199"})]


class StrictModel(BaseModel):
    """Base of the search request and response models: unknown fields refused, frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
