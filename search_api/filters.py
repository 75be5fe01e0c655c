"""The search filters: what `filter` holds for product and content searches, and the filter
tests merchandising tiers are built of (pure).
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field, model_validator

from indexer.model.text import split_option
from search_api.value_types import (
    Amount,
    Boolean,
    Currency,
    DateBound,
    OptionValue,
    StrictModel,
    TagName,
)

ProductStatus = Literal["draft", "proposed", "published", "rejected"]
ContentStatus = Literal["draft", "published", "archived"]


class PriceRange(StrictModel):
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


class DateRange(StrictModel):
    gte: DateBound | None = None
    lte: DateBound | None = None


class ProductFilter(StrictModel):
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


class ContentFilter(StrictModel):
    kind: list[Literal["page", "post", "comment"]] = Field(default_factory=list, max_length=3)
    categories: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    tags: list[TagName] = Field(default_factory=list, max_length=50)
    author: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    published: DateRange | None = None
    status: list[ContentStatus] | None = Field(default=None, max_length=3)


class FilterTest(StrictModel):
    """Holds for a document that matches one of `filters` (each: every field it sets, as the
    search's `filter` would), or, with `negate`, for one matching none."""

    filters: tuple[ProductFilter | ContentFilter, ...]
    negate: bool = False
