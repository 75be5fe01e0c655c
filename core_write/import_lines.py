"""Bulk import lines (pure): the NDJSON line schema (`ProductLine`, `NodeLine`: the services'
input models with the import's shorthands), `parse_line` with the checks across a line's
parts, and reading a byte stream into numbered lines (`split_lines`, `skip_prefix` for a
resume). `core_write.bulk_import` runs them as a job; `core_write.import_rows` writes them."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from core_write.errors import (
    Conflict,
    ImportLineRefused,
    ImportTooLarge,
    ValidationFailed,
)
from core_write.services import content
from core_write.services.catalog import OptionCreate, PriceSet, ProductCreate, VariantCreate
from core_write.services.taxonomy import TagCreate
from core_write.validate import (
    INT_MAX,
    TAG_SLUG_MAX,
    Slug,
    Text,
    check_input,
    parse_input,
    slugify,
)

LINE_MAX_BYTES = 1024 * 1024
"""Bytes of one line: a node's longest body (256 KiB) and excerpt (64 KiB), escaped, fit."""
DEFAULT_LOCATION = "Default"
"""The stock location a bare `stock` number goes to (created when missing)."""
Quantity = Annotated[int, Field(ge=0, le=INT_MAX)]
"""A stocked quantity (as `StockLevelSet.stocked_quantity`: an `integer` column, not below 0)."""


# ---- the line schema ------------------------------------------------------------------------
def _price_map(value: Any) -> Any:
    """`{"EUR": 1999}` is short for `[{"currency_code": "EUR", "amount": 1999}]`."""
    if isinstance(value, dict):
        return [{"currency_code": code, "amount": amount} for code, amount in value.items()]
    return value


def _stock_map(value: Any) -> Any:
    """`3` is short for `{"Default": 3}`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {DEFAULT_LOCATION: value}
    return value


class ImportVariant(VariantCreate):
    """A variant as `VariantCreate` takes it, its option values named by option title instead
    of by id, with its prices and stock. `title` defaults to the option values ("M / Red")."""

    title: Text | None = None  # type: ignore[assignment]
    option_value_ids: list[Any] = Field(default_factory=list)
    options: dict[Text, Text] = Field(default_factory=dict, max_length=64)
    """Option title → value, one value of each option named."""
    prices: Annotated[list[PriceSet], BeforeValidator(_price_map)] = Field(
        default_factory=list, max_length=200)
    stock: Annotated[dict[Text, Quantity] | None, BeforeValidator(_stock_map)] = Field(
        default=None, max_length=50)
    """Stocked quantity per stock location name, or a number: at the `DEFAULT_LOCATION`; with
    stock the variant gets an inventory item (its SKU the variant's)."""

    @field_validator("option_value_ids")
    @classmethod
    def _no_value_ids(cls, value: list[Any]) -> list[Any]:
        if value:
            raise ValueError("an import names option values in `options` (title: value)")
        return value


class CategoryRef(BaseModel):
    """A commerce category by handle, with the name it gets if the import creates it."""

    model_config = ConfigDict(extra="forbid")
    handle: Slug
    name: Text | None = None


def _category_ref(value: Any) -> Any:
    return {"handle": value} if isinstance(value, str) else value


def _tag_ref(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


CategoryItem = Annotated[CategoryRef, BeforeValidator(_category_ref)]
TagItem = Annotated[TagCreate, BeforeValidator(_tag_ref)]


class ProductLine(ProductCreate):
    """One product line (`type` may be omitted): `ProductCreate`'s fields with its parts."""

    type: Literal["product"] = "product"
    options: list[OptionCreate] = Field(default_factory=list, max_length=20)
    variants: list[ImportVariant] = Field(default_factory=list, max_length=100)
    categories: list[CategoryItem] = Field(default_factory=list, max_length=50)
    """Handles (`"jackets"`) or `{handle, name}`; missing categories are created at the root,
    named `name` or after the handle."""
    tags: list[TagItem] = Field(default_factory=list, max_length=50)
    """Names (`"New in"`) or `{name, slug}`; a tag is found by its slug (derived from the name
    when not given) and created when missing."""


class NodeLine(content.NodeCreate):
    """One content node line (`"type": "node"`): `NodeCreate`'s fields for a page or post
    (comments need a parent node and are not imported), its slug required (the idempotency
    key with the kind), a content category by slug and tags by name."""

    type: Literal["node"]
    kind: Literal["page", "post"]
    slug: Slug
    category: Slug | None = None
    """A content category slug; created at the root when missing."""
    tags: list[TagItem] = Field(default_factory=list, max_length=50)


Line = ProductLine | NodeLine
LINE_MODELS: dict[str, type[ProductLine] | type[NodeLine]] = {
    "product": ProductLine, "node": NodeLine}


_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
"""How text PostgreSQL cannot store (a NUL, an unpaired surrogate) can be in a line that
`json.loads` takes: as an escape (raw, a NUL is a control character JSON refuses in a string,
a surrogate is not UTF-8). Only a line with one is walked by `check_input` (half the cost of
parsing a line); nesting is bounded by the line models and `check_json`."""


def parse_line(raw: bytes) -> Line:
    """One NDJSON line as a product or node (pure); `ImportLineRefused` names the field and
    the reason. A product line without a `type` and without an escape to walk is validated
    from its bytes by pydantic's JSON parser (a fifth of the cost); when that refuses it, the
    line is parsed again below, which names the field the way every refusal does."""
    if b'"type"' not in raw and not _UNSTORABLE_ESCAPE.search(raw):
        try:
            product = ProductLine.model_validate_json(raw)
        except ValidationError:
            pass
        else:
            check_product(product)
            return product
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ImportLineRefused("", f"not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise ImportLineRefused("", f"must be a JSON object, not {type(data).__name__}")
    kind = data.get("type", "product")
    model = LINE_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ImportLineRefused("type", f"must be one of {', '.join(LINE_MODELS)}")
    try:
        if _UNSTORABLE_ESCAPE.search(raw):
            check_input(data, "")  # names the field of the NUL or the lone surrogate
        spec = parse_input(model, data)
    except ValidationFailed as exc:
        field = exc.field
        raise ImportLineRefused(field, exc.message.removeprefix(f"{field}: ")) from None
    if isinstance(spec, ProductLine):
        check_product(spec)
    elif spec.parent_id is not None:
        raise ImportLineRefused("parent_id", "imported nodes are pages and posts, without a parent")
    return spec


def check_product(line: ProductLine) -> None:
    """What one line's parts must agree on (pure): distinct option titles, each variant naming
    existing values of existing options, distinct SKUs, derivable tag slugs."""
    options = {option.title: set(option.values) for option in line.options}
    if len(options) != len(line.options):
        raise ImportLineRefused("options", "two options have the same title")
    skus: set[str] = set()
    for i, variant in enumerate(line.variants):
        for title, value in variant.options.items():
            if title not in options:
                raise ImportLineRefused(f"variants.{i}.options.{title}", "no option of that title")
            if value not in options[title]:
                raise ImportLineRefused(f"variants.{i}.options.{title}",
                                f"{value!r} is not a value of the option")
        if variant.sku is not None:
            if variant.sku in skus:
                raise ImportLineRefused(f"variants.{i}.sku", "given to two variants")
            skus.add(variant.sku)
        prices = [(p.currency_code, p.min_quantity) for p in variant.prices]
        if len(set(prices)) != len(prices):
            raise ImportLineRefused(f"variants.{i}.prices",
                                    "two prices for one currency and quantity")
    for i, tag in enumerate(line.tags):
        if not tag_slug(tag):
            raise ImportLineRefused(f"tags.{i}.slug", "cannot be derived from the name; give one")


def tag_slug(tag: TagCreate) -> str:
    """A tag's slug: the one given, or derived from its name as `create_tag` derives it
    ('' when nothing is left). Names repeat across lines: each is derived once."""
    return tag.slug or _derived_tag_slug(tag.name)


@functools.lru_cache(maxsize=4096)
def _derived_tag_slug(name: str) -> str:
    return slugify(name, TAG_SLUG_MAX)


def line_key(line: Line) -> tuple[str, ...]:
    """What makes a line the same entity as another (pure)."""
    if isinstance(line, ProductLine):
        return ("product", line.handle)
    return ("node", line.kind, line.slug)


# ---- reading lines --------------------------------------------------------------------------
@dataclass
class RawLine:
    number: int
    data: bytes | None
    """The line without its newline; None when it is longer than `LINE_MAX_BYTES`."""
    end: int
    """Byte offset just past the line (its newline included)."""


async def split_lines(chunks: AsyncIterable[bytes], hasher: Any, *, first_line: int = 1,
                      offset: int = 0, max_line: int = LINE_MAX_BYTES,
                      max_bytes: int | None = None) -> AsyncIterator[RawLine]:
    """The lines of a byte stream, numbered from `first_line`, each fed to `hasher` before it
    is yielded (so the hash covers exactly the lines handed out); a line over `max_line`
    bytes is yielded without data, never held. More than `max_bytes` in all: `ImportTooLarge`."""
    buffer = bytearray()
    number, position, overlong = first_line, offset, 0
    async for chunk in chunks:
        if max_bytes is not None and position + len(buffer) + overlong + len(chunk) > max_bytes:
            raise ImportTooLarge(max_bytes)
        start = 0
        while True:
            cut = chunk.find(b"\n", start)
            if cut < 0:
                rest = chunk[start:]
                if overlong or len(buffer) + len(rest) > max_line:
                    hasher.update(buffer)
                    hasher.update(rest)
                    overlong += len(buffer) + len(rest)
                    buffer.clear()
                else:
                    buffer += rest
                break
            piece = chunk[start:cut + 1]
            if overlong or len(buffer) + len(piece) - 1 > max_line:
                hasher.update(buffer)
                hasher.update(piece)
                position += overlong + len(buffer) + len(piece)
                yield RawLine(number, None, position)
            else:
                buffer += piece
                hasher.update(buffer)
                position += len(buffer)
                yield RawLine(number, bytes(buffer[:-1]), position)
            buffer.clear()
            overlong = 0
            number += 1
            start = cut + 1
    if buffer or overlong:  # a last line without its newline
        hasher.update(buffer)
        position += overlong + len(buffer)
        yield RawLine(number, None if overlong else bytes(buffer), position)


async def skip_prefix(chunks: AsyncIterable[bytes], length: int, expected_sha256: str,
                      hasher: Any) -> AsyncIterator[bytes]:
    """The stream after its first `length` bytes, which are fed to `hasher` and must hash to
    `expected_sha256` (the part a previous run committed): `Conflict` if they do not."""
    left = length
    async for chunk in chunks:
        if left:
            head, chunk = chunk[:left], chunk[left:]
            hasher.update(head)
            left -= len(head)
            if left == 0 and hasher.hexdigest() != expected_sha256:
                raise Conflict("the input differs from the part this import already "
                               "committed: resume with the same input, or start a new "
                               "import", field="body")
        if chunk:
            yield chunk
    if left:
        raise Conflict(f"the input ends before the {length} bytes this import already "
                       "committed: resume with the same input", field="body")
