"""The one query model every search backend compiles, and the response shape they all return
(pure). GET query strings and POST bodies are parsed into the same `SearchQuery`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SkipValidation,
    Strict,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from core_write.currencies import ISO_4217
from core_write.errors import ValidationFailed
from core_write.validate import BIGINT_MAX
from indexer.model import BY_SECTION, SPECS, DocType, Document, ProductDoc
from indexer.model.relevance import DEFAULT_TEXT_RULES, LOCALE, TextRules
from indexer.model.text import split_option

DOC_TYPES: Mapping[str, DocType] = BY_SECTION
"""The public document type names (URLs, `type=`, the CLI, OpenAPI) and the internal ones
(`indexer.model.DocType`). `product` is still accepted where a type is given in a body
(deprecated)."""
PUBLIC_DOC_TYPES: dict[DocType, str] = {dt: spec.section for dt, spec in SPECS.items()}
ProductStatus = Literal["draft", "proposed", "published", "rejected"]
ContentStatus = Literal["draft", "published", "archived"]
ProductFacet = Literal["categories", "tags", "currencies", "has_stock", "price", "options"]
ContentFacet = Literal["kind", "categories", "tags", "author"]
PRODUCT_SORTS = frozenset({"relevance", "price:asc", "price:desc", "created_at:asc",
                           "created_at:desc", "title:asc", "title:desc"})
CONTENT_SORTS = frozenset({"relevance", "published_at:asc", "published_at:desc",
                           "created_at:asc", "created_at:desc", "title:asc", "title:desc"})
DEFAULT_PRICE_BUCKETS = (1000, 2500, 5000, 10000, 25000, 50000)
OWN_FILTER: dict[str, str] = {"categories": "categories", "tags": "tags",
                              "has_stock": "has_stock", "price": "price", "kind": "kind",
                              "author": "author", "options": "options"}
"""Which filter a facet ignores (disjunctive faceting: a facet whose own filter is set is
counted with every other filter, so ticking a category keeps the other ones visible)."""
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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriceRange(_Strict):
    """Minor units (cents) in `currency`; both bounds inclusive."""

    currency: Currency
    """Defaults to the request's `currency` when left out."""
    min: Amount | None = None
    max: Amount | None = None

    @model_validator(mode="after")
    def _ordered(self) -> PriceRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class DateRange(_Strict):
    gte: DateBound | None = None
    lte: DateBound | None = None


class ProductFilter(_Strict):
    categories: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    """Any of these category ids."""
    tags: list[TagName] = Field(default_factory=list, max_length=50)
    """Any of these tag names."""
    price: PriceRange | None = None
    """Products with a variant priced inside the range (their [min, max] overlaps it)."""
    has_stock: Boolean | None = None
    options: list[OptionValue] = Field(default_factory=list, max_length=50)
    """Option values as the `options` facet names them ("Colour:red"): products with a
    variant of any of the values given for an option, for every option named (red or navy,
    and size M)."""
    status: list[ProductStatus] | None = Field(default=None, max_length=4)
    """Admin keys only for anything but `published`; search keys always see `published`."""


def option_groups(values: list[str]) -> list[list[str]]:
    """Option filter values grouped by option name, in the order names first appear: every
    group must match (AND), any value of a group (OR)."""
    groups: dict[str, list[str]] = {}
    for value in values:
        groups.setdefault(split_option(value)[0], []).append(value)
    return list(groups.values())


class ContentFilter(_Strict):
    kind: list[Literal["page", "post", "comment"]] = Field(default_factory=list, max_length=3)
    categories: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    tags: list[TagName] = Field(default_factory=list, max_length=50)
    author: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    published: DateRange | None = None
    status: list[ContentStatus] | None = Field(default=None, max_length=3)


class SearchQuery(_Strict):
    """One search request. `doc_type` decides which filter, facet and sort names are valid."""

    doc_type: Annotated[DocType, WithJsonSchema({
        "enum": ["products", "content"],
        "description": "optional: the endpoint decides it (`product` is accepted, "
                       "deprecated)"})] = Field(default="product",
                                                json_schema_extra={"default": "products"})
    q: str | None = Field(default=None, max_length=256, pattern=NO_NUL)
    filter: ProductFilter | ContentFilter | None = None
    facets: list[str] = Field(default_factory=list, max_length=10)
    sort: str = "relevance"
    currency: Currency | None = None
    """The currency of price sorting, the price facet and facet_stats (else the price
    filter's currency)."""
    price_buckets: tuple[Bucket, ...] = Field(
        default=DEFAULT_PRICE_BUCKETS, min_length=1, max_length=20)
    page: Annotated[int, Strict(), Ge(1), Le(500), INTEGRAL] = 1
    per_page: Annotated[int, Strict(), Ge(1), Le(100), INTEGRAL] = 20
    highlight: Boolean = False
    locale: str | None = Field(default=None, pattern=LOCALE, max_length=12)
    """The shopper's language or locale (`de`, `en-GB`): synonyms and stop words scoped to it
    apply besides the unscoped ones."""
    min_token: Token | None = Field(default=None, exclude=True,
                                    description=MIN_TOKEN_DESCRIPTION)

    @model_validator(mode="before")
    @classmethod
    def _filter_for_doc_type(cls, data: Any) -> Any:
        # parse `filter` with the class of the doc type, so errors name its real fields
        if isinstance(data, dict) and isinstance(data.get("doc_type"), str):
            data = {**data, "doc_type": DOC_TYPES.get(data["doc_type"], data["doc_type"])}
        data = default_price_currency(data)
        if isinstance(data, dict) and isinstance(data.get("filter"), dict):
            kind = ContentFilter if data.get("doc_type") == "content" else ProductFilter
            data = {**data, "filter": kind.model_validate(data["filter"])}
        return data

    @field_validator("q")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        # a space after the last word is kept: it says the shopper finished the word, which
        # then no longer matches as a prefix (indexer.model.text.prefix_word)
        return value.lstrip() if value is not None and value.strip() else None

    @field_validator("price_buckets")
    @classmethod
    def _increasing(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(b <= a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError("needs 1-20 strictly increasing bounds")
        return value

    @model_validator(mode="after")
    def _fits_doc_type(self) -> SearchQuery:
        product = self.doc_type == "product"
        # ValidationFailed, not ValueError: pydantic would report these at the model's level
        # (`body`); the caller sent a parameter, and the error names it
        expected = ProductFilter if product else ContentFilter
        if self.filter is not None and not isinstance(self.filter, expected):
            raise ValidationFailed("filter", f"these fields do not apply to "
                                             f"{PUBLIC_DOC_TYPES[self.doc_type]} search")
        allowed = set(ProductFacet.__args__ if product  # type: ignore[attr-defined]
                      else ContentFacet.__args__)  # type: ignore[attr-defined]
        unknown = [f for f in self.facets if f not in allowed]
        if unknown:
            raise ValidationFailed("facets", f"unknown facets {unknown}; allowed: "
                                             f"{sorted(allowed)}")
        if len(set(self.facets)) != len(self.facets):
            raise ValidationFailed("facets", "facets are listed twice")
        if self.sort not in (PRODUCT_SORTS if product else CONTENT_SORTS):
            raise ValidationFailed("sort", f"unknown sort {self.sort!r}; allowed: "
                                           f"{sorted(PRODUCT_SORTS if product else CONTENT_SORTS)}")
        if (self.sort.startswith("price") or "price" in self.facets) and \
                self.price_currency is None:
            raise ValidationFailed("currency", "price sorting and the price facet need "
                                               "`currency`")
        return self

    @property
    def price_currency(self) -> str | None:
        if self.currency:
            return self.currency
        if isinstance(self.filter, ProductFilter) and self.filter.price is not None:
            return self.filter.price.currency
        return None

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def default_price_currency(data: Any) -> Any:
    """`filter.price` without a currency takes the request's `currency` (pure)."""
    if not isinstance(data, dict) or not isinstance(data.get("currency"), str):
        return data
    flt = data.get("filter")
    if not isinstance(flt, dict) or not isinstance(flt.get("price"), dict) \
            or "currency" in flt["price"]:
        return data
    return {**data, "filter": {**flt, "price": {**flt["price"], "currency": data["currency"]}}}


def bucket_label(bounds: tuple[int, ...], amount: int) -> str:
    """The price bucket an amount falls in: `0-1000`, `1000-2500`, ..., `50000+` (pure)."""
    low = 0
    for high in bounds:
        if amount < high:
            return f"{low}-{high}"
        low = high
    return f"{low}+"


class FilterTest(_Strict):
    """Holds for a document that matches one of `filters` (each: every field it sets, as the
    search's `filter` would), or, with `negate`, for one matching none."""

    filters: tuple[ProductFilter | ContentFilter, ...]
    negate: bool = False


class SearchScope(_Strict):
    """Who searches: fixed by the API key, never by request parameters."""

    tenant_id: uuid.UUID
    include_drafts: bool = False
    only_ids: frozenset[uuid.UUID] | None = None
    """Merchandising: the search sees only these documents (a pin's lookup)."""
    exclude_ids: frozenset[uuid.UUID] = frozenset()
    """Merchandising: documents this search never sees (hidden by a rule, or pinned)."""
    tier: tuple[tuple[FilterTest, ...], ...] = ()
    """Merchandising (boost and bury): the search sees only the documents for which every
    group holds one test that holds (a conjunction of disjunctions), besides its filter."""
    in_stock_first: bool = False
    """Products in stock before those out of stock (ranking tier 0, relevance and explicit
    sorts alike). The API fills it from the tenant's setting (`ApiKey.scope`, on by
    default); a scope built by hand ranks without it."""
    language: str = "simple"
    """The tenant's text search configuration (`settings.language`): the language query
    words are stemmed in by the engines that stem in Python."""
    text_rules: Annotated[TextRules, SkipValidation] = DEFAULT_TEXT_RULES
    """The tenant's synonyms, stop words and typo settings (the API fills them from its
    relevance settings for the search's `locale`)."""

    def statuses(self, query: SearchQuery) -> list[str] | None:
        """The statuses this search may see (None: any): `published` for search keys, what
        the filter asks for (or everything) for admin keys. Every backend filters by it."""
        if not self.include_drafts:
            return ["published"]
        flt = query.filter
        return list(flt.status) if flt is not None and flt.status else None


HIT_DOCUMENT = (
    "the document. Products: id, title, subtitle, handle, description, status, prices "
    "({currency: {min, max}}, minor units), currencies, has_stock, total_stock, category_ids, "
    "tags, created_at, published_at, thumbnail (URL or null), categories ([{id, name, "
    "handle}]), skus (by variant position), options ([{option, values}]: the values some "
    "variant carries), price_min and price_max (in the request's `currency`, else the price "
    "filter's; null without one). Content: id, kind, title, slug, excerpt, body_preview, "
    "status, author_id, author_name, category_id, tags, created_at, published_at")


class Hit(_Strict):
    id: uuid.UUID
    score: float | None = None
    document: dict[str, Any] = Field(description=HIT_DOCUMENT)
    highlights: dict[str, str] = Field(default_factory=dict)
    """Field -> fragment with matches wrapped in <mark></mark>."""


def hit_document(document: Document, query: SearchQuery) -> dict[str, Any]:
    """The `document` of a hit: the document's fields, and for products `price_min` /
    `price_max` in the request's price currency (`currency`, else the price filter's; null
    without one or when the product has no price in it). Every backend builds hits so."""
    out = document._asdict()
    if isinstance(document, ProductDoc):
        currency = query.price_currency
        price = document.prices.get(currency) if currency is not None else None
        out["price_min"] = price["min"] if price is not None else None
        out["price_max"] = price["max"] if price is not None else None
    return out


class FacetStats(_Strict):
    min: int
    max: int


class FacetValue(_Strict):
    """One value of a facet as a facet list renders it."""

    value: str
    """What a filter takes (a category id, a tag name, "Colour:red", a price bucket)."""
    count: int
    """Matching documents (products, for option values: not variants)."""
    label: str
    """What a storefront shows: the category or author name, the option value, else the
    value itself."""
    handle: str | None = None
    """The category's handle (content: its slug)."""
    option: str | None = None
    """The option's name, for `options` values."""


def facet_order(name: str, counts: Mapping[str, int],
                labels: Mapping[str, str] | None = None) -> dict[str, int]:
    """A facet's values in the documented order: price buckets by amount; every other facet
    by count (most first), then label (casefolded: an option's value, the category or author
    name of `labels`, else the value itself), then value. Every backend's facets come out so,
    and the API orders them again once it has the names of id values (pure)."""
    if name == "price":
        def amount(bucket: str) -> int:
            head = bucket.split("-")[0].rstrip("+")
            return int(head) if head.isdigit() else 0
        return dict(sorted(counts.items(), key=lambda kv: (amount(kv[0]), kv[0])))
    names = labels or ({v: split_option(v)[1] for v in counts} if name == "options" else {})
    return dict(sorted(counts.items(), key=lambda kv: (
        -kv[1], (names.get(kv[0]) or kv[0]).casefold(), kv[0])))


class SearchResult(_Strict):
    hits: list[Hit]
    total: int
    page: int
    per_page: int
    facets: dict[str, dict[str, int]] = Field(default_factory=dict)
    """facet → value → count, each facet's values in `facet_order`."""
    facet_stats: dict[str, FacetStats] = Field(default_factory=dict)
    facet_labels: dict[str, dict[str, str]] = Field(default_factory=dict)
    """facet → value → the name a storefront shows, for the facets whose values are ids
    (`categories`, `author`)."""
    facet_values: dict[str, list[FacetValue]] = Field(default_factory=dict)
    """facet → its values as a list a facet list renders (value, count, label, category
    handle, option name), in the order of `facets` (the API fills it in)."""
    took_ms: float = 0.0
    backend: str
    stale: bool = False
    applied_rules: list[uuid.UUID] = Field(default_factory=list)
    """The merchandising rules that shaped this answer, in evaluation order."""
    redirect: str | None = None
    """A rule's redirect: the client should send the shopper to this URL."""
    banners: list[dict[str, Any]] = Field(default_factory=list)
    """The payloads of the applied rules' banners, in rule order."""

    @field_validator("facets")
    @classmethod
    def _in_facet_order(cls, value: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        return {name: facet_order(name, counts) for name, counts in value.items()}


class Suggestion(_Strict):
    id: uuid.UUID
    title: str
    highlighted: str


class SearchBackend(Protocol):
    """One module per backend implements this; the conformance suite runs against each."""

    name: str

    async def search(self, query: SearchQuery, scope: SearchScope) -> SearchResult: ...

    async def suggest(self, doc_type: DocType, prefix: str, scope: SearchScope,
                      limit: int = 8) -> list[Suggestion]: ...

    async def ready(self) -> bool: ...

    async def caught_up(self) -> None:
        """Let searches see every change the engine has made visible so far (called after a
        read-your-writes wait found the token applied). A no-op where what is applied is
        visible at once."""
