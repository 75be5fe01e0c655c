"""The one query model every search backend compiles, with the document type and sort names it
accepts (pure). GET query strings and POST bodies are parsed into the same `SearchQuery`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import Field, Strict, WithJsonSchema, field_validator, model_validator

from core_write.errors import ValidationFailed
from indexer.model import BY_SECTION, SPECS, DocType
from indexer.model.relevance import LOCALE
from search_api.facets import DEFAULT_PRICE_BUCKETS, ContentFacet, ProductFacet
from search_api.filters import ContentFilter, ProductFilter
from search_api.value_types import (
    INTEGRAL,
    MIN_TOKEN_DESCRIPTION,
    NO_NUL,
    Boolean,
    Bucket,
    Currency,
    StrictModel,
    Token,
)

DOC_TYPES: Mapping[str, DocType] = BY_SECTION
"""The public document type names (URLs, `type=`, the CLI, OpenAPI) and the internal ones
(`indexer.model.DocType`). `product` is still accepted where a type is given in a body
(deprecated)."""
PUBLIC_DOC_TYPES: dict[DocType, str] = {dt: spec.section for dt, spec in SPECS.items()}
PRODUCT_SORTS = frozenset({"relevance", "price:asc", "price:desc", "created_at:asc",
                           "created_at:desc", "title:asc", "title:desc"})
CONTENT_SORTS = frozenset({"relevance", "published_at:asc", "published_at:desc",
                           "created_at:asc", "created_at:desc", "title:asc", "title:desc"})


class SearchQuery(StrictModel):
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
