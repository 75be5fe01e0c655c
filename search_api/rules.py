"""Merchandising rules: when a search meets a rule's condition, its consequences pin documents
at positions, hide documents, set filters, and hand the client a redirect or banners (pure:
models, evaluation and page arithmetic; `search_api.merchandising` runs them).

Order: a tenant's rules are evaluated by `position` (ascending), then creation time, then id;
every enabled rule whose condition holds applies, and where two disagree the earlier one
wins: the first rule to pin a position keeps it, a document pinned twice keeps its first
position, the first redirect is the redirect, the first rule to set a filter field sets it.
Hidden documents are the union of every applied rule's, and hiding beats pinning. Banners
are all returned, in rule order. Boosts are the union of every applied rule's boost filter,
buries likewise; a document matching both a boost and a bury is neither (`tiers`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import (
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from indexer.model.relevance import MAX_TERM_CHARS, words_of
from search_api.filters import ContentFilter, FilterTest, ProductFilter
from search_api.model import SearchQuery

MAX_RULES = 200
"""Rules per tenant (enabled or not)."""
MAX_PINS = 20
MAX_PIN_POSITION = 100
MAX_HIDDEN = 100
MAX_BANNER_BYTES = 4096
class _Strict(BaseModel):
    # Python's `re`, so `\w` means here what it means where queries are split (and in the
    # schema-driven tests, which draw strings with it)
    model_config = ConfigDict(extra="forbid", frozen=True, regex_engine="python-re")


class Condition(_Strict):
    """When a rule applies. All given parts must hold; none given: every search of
    `doc_type`. `query`: the query's words equal these (case and punctuation aside);
    `contains`: these words appear next to each other in the query; `filters`: the search
    filters at least these values (e.g. a category page: `{"categories": ["<id>"]}`);
    `starts_at`/`ends_at`: the time window (ends exclusive)."""

    doc_type: Literal["products", "content"] = "products"
    query: str | None = Field(default=None, max_length=MAX_TERM_CHARS, pattern=r"\w")
    contains: str | None = Field(default=None, max_length=MAX_TERM_CHARS, pattern=r"\w")
    filters: ProductFilter | ContentFilter | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        starts = info.data.get("starts_at")
        if value is not None and starts is not None and value <= starts:
            raise ValueError("must be after starts_at")
        return value

    @field_validator("filters")
    @classmethod
    def _filters(cls, value: ProductFilter | ContentFilter | None, info: ValidationInfo
                 ) -> ProductFilter | ContentFilter | None:
        return _fits(info.data.get("doc_type", "products"), value)


class Pin(_Strict):
    id: uuid.UUID
    position: int = Field(ge=1, le=MAX_PIN_POSITION)


class FilterChange(_Strict):
    """`add`: fields the search did not filter by get these values; `replace`: these fields
    get these values whatever the search asked."""

    add: ProductFilter | ContentFilter | None = None
    replace: ProductFilter | ContentFilter | None = None


class Consequences(_Strict):
    pin: list[Pin] = Field(default_factory=list, max_length=MAX_PINS)
    hide: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_HIDDEN)
    filter: FilterChange | None = None
    boost: ProductFilter | ContentFilter | None = Field(default=None, description=(
        "documents matching this filter (the search's filter shape) come first, in the "
        "search's order; pins keep their positions; total and facets do not change"))
    bury: ProductFilter | ContentFilter | None = Field(default=None, description=(
        "documents matching this filter come last, in the search's order; one matching a "
        "boost too stays with the rest"))
    redirect: AnyHttpUrl | None = None
    banner: dict[str, Any] | None = None

    @field_validator("banner")
    @classmethod
    def _small(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            import json

            if len(json.dumps(value).encode()) > MAX_BANNER_BYTES:
                raise ValueError(f"at most {MAX_BANNER_BYTES} bytes of JSON")
        return value

    @field_validator("pin")
    @classmethod
    def _distinct(cls, value: list[Pin]) -> list[Pin]:
        if len({p.position for p in value}) != len(value):
            raise ValueError("two pins at one position")
        if len({p.id for p in value}) != len(value):
            raise ValueError("a document pinned twice")
        return value

    @model_validator(mode="after")
    def _something(self) -> Consequences:
        if not (self.pin or self.hide or self.filter or self.redirect or self.banner
                or self.boost or self.bury):
            raise ValueError("a rule needs at least one consequence (pin, hide, filter, "
                             "boost, bury, redirect or banner)")
        return self


class RuleSpec(_Strict):
    """A rule as written by a client."""

    description: str = Field(default="", max_length=500)
    enabled: bool = True
    position: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    condition: Condition = Field(default_factory=Condition)
    consequences: Consequences

    @field_validator("consequences")
    @classmethod
    def _filters_fit(cls, value: Consequences, info: ValidationInfo) -> Consequences:
        condition = info.data.get("condition")
        doc_type = condition.doc_type if isinstance(condition, Condition) else "products"
        change = value.filter
        if change is not None:
            change = change.model_copy(update={"add": _fits(doc_type, change.add),
                                               "replace": _fits(doc_type, change.replace)})
        return value.model_copy(update={"filter": change, "boost": _fits(doc_type, value.boost),
                                        "bury": _fits(doc_type, value.bury)})


class Rule(RuleSpec):
    """A stored rule."""

    id: uuid.UUID
    version: int = 1
    created_at: datetime
    updated_at: datetime


def _fits(doc_type: str, given: ProductFilter | ContentFilter | None
          ) -> ProductFilter | ContentFilter | None:
    """Cross-field: a filter's fields must be those of the rule's document type; one whose
    fields both types have (`tags`, `categories`) is read as the rule's type's."""
    if given is None or isinstance(given, ProductFilter) == (doc_type == "products"):
        return given
    kind = ProductFilter if doc_type == "products" else ContentFilter
    try:
        return kind.model_validate(given.model_dump(exclude_unset=True))
    except ValidationError:
        raise ValueError(f"these filter fields do not apply to {doc_type}") from None


def _given(flt: ProductFilter | ContentFilter | None) -> dict[str, Any]:
    """The fields a filter sets: neither null nor an empty list."""
    if flt is None:
        return {}
    return {name: getattr(flt, name) for name in type(flt).model_fields
            if getattr(flt, name) not in (None, [])}


@dataclass(frozen=True)
class Plan:
    """What the applied rules do to one search."""

    applied: tuple[uuid.UUID, ...] = ()
    pins: tuple[Pin, ...] = ()
    hidden: frozenset[uuid.UUID] = frozenset()
    query: SearchQuery | None = None
    """The query with the rules' filters, when they change it."""
    redirect: str | None = None
    banners: tuple[dict[str, Any], ...] = ()
    changes: dict[str, Any] = field(default_factory=dict)
    boost: tuple[ProductFilter | ContentFilter, ...] = ()
    bury: tuple[ProductFilter | ContentFilter, ...] = ()


def _public(doc_type: str) -> str:
    return "products" if doc_type == "product" else "content"


def _contains(words: Sequence[str], part: Sequence[str]) -> bool:
    n = len(part)
    return any(tuple(words[i:i + n]) == tuple(part) for i in range(len(words) - n + 1))


def _filter_holds(query: SearchQuery, wanted: ProductFilter | ContentFilter) -> bool:
    """The search filters at least `wanted`'s values (lists: every wanted value is among the
    filtered ones; others: equal)."""
    have = _given(query.filter)
    for name, value in _given(wanted).items():
        if name not in have:
            return False
        if isinstance(value, list):
            if not set(value) <= set(have[name]):
                return False
        elif have[name] != value:
            return False
    return True


def holds(condition: Condition, query: SearchQuery, now: datetime) -> bool:
    if condition.doc_type != _public(query.doc_type):
        return False
    if condition.starts_at is not None and now < condition.starts_at:
        return False
    if condition.ends_at is not None and now >= condition.ends_at:
        return False
    typed = words_of(query.q or "")
    if condition.query is not None and typed != words_of(condition.query):
        return False
    if condition.contains is not None and not _contains(typed, words_of(condition.contains)):
        return False
    return condition.filters is None or _filter_holds(query, condition.filters)


def ordered(rules: Sequence[Rule]) -> list[Rule]:
    return sorted(rules, key=lambda r: (r.position, r.created_at, r.id))


def plan(rules: Sequence[Rule], query: SearchQuery, now: datetime) -> Plan:
    """The rules that apply to `query` at `now`, and what they do together."""
    applied: list[uuid.UUID] = []
    positions: dict[int, Pin] = {}
    pinned: set[uuid.UUID] = set()
    hidden: set[uuid.UUID] = set()
    redirect: str | None = None
    banners: list[dict[str, Any]] = []
    set_fields: dict[str, Any] = {}
    boost: list[ProductFilter | ContentFilter] = []
    bury: list[ProductFilter | ContentFilter] = []
    for rule in ordered(rules):
        if not rule.enabled or not holds(rule.condition, query, now):
            continue
        applied.append(rule.id)
        effect = rule.consequences
        for pin in effect.pin:
            if pin.position not in positions and pin.id not in pinned:
                positions[pin.position] = pin
                pinned.add(pin.id)
        hidden.update(effect.hide)
        if redirect is None and effect.redirect is not None:
            redirect = str(effect.redirect)
        if effect.banner is not None:
            banners.append(effect.banner)
        for given, into in ((effect.boost, boost), (effect.bury, bury)):
            # an empty filter matches every document: it moves nothing
            if given is not None and _given(given) and given not in into:
                into.append(given)
        if effect.filter is not None:
            current = _given(query.filter)
            for name, value in _given(effect.filter.replace).items():
                set_fields.setdefault(name, value)
            for name, value in _given(effect.filter.add).items():
                if current.get(name) in (None, []):
                    set_fields.setdefault(name, value)
    pins = tuple(p for _, p in sorted(positions.items()) if p.id not in hidden)
    new_query = None
    if set_fields:
        kind = type(query.filter) if query.filter is not None else (
            ProductFilter if query.doc_type == "product" else ContentFilter)
        new_query = query.model_copy(update={"filter": kind.model_validate(
            {**_given(query.filter), **set_fields})})
    return Plan(applied=tuple(applied), pins=pins, hidden=frozenset(hidden), query=new_query,
                redirect=redirect, banners=tuple(banners), changes=set_fields,
                boost=tuple(boost), bury=tuple(bury))


Tier = tuple[tuple[FilterTest, ...], ...]
"""`SearchScope.tier`: every group holds a test that holds."""


def tiers(boost: Sequence[ProductFilter | ContentFilter],
          bury: Sequence[ProductFilter | ContentFilter]) -> list[Tier]:
    """The parts of the organic order, first to last: the boosted documents (matching a
    boost, no bury), the rest (matching both or neither), the buried ones (a bury, no boost).
    Without boosts and buries: one part, everything."""
    up, down = FilterTest(filters=tuple(boost)), FilterTest(filters=tuple(bury))
    not_up, not_down = FilterTest(filters=tuple(boost), negate=True), \
        FilterTest(filters=tuple(bury), negate=True)
    if boost and bury:
        return [((up,), (not_down,)), ((not_up, down), (not_down, up)), ((down,), (not_up,))]
    if boost:
        return [((up,),), ((not_up,),)]
    if bury:
        return [((not_down,),), ((down,),)]
    return [()]


@dataclass(frozen=True)
class Window:
    """Where a page's organic hits come from once pins take their positions: `offset` and
    `count` organic hits, and the page slots (0-based within the page) the pins fill."""

    offset: int
    count: int
    slots: dict[int, uuid.UUID]


def page_window(pins: Sequence[Pin], organic_total: int, offset: int,
                per_page: int) -> Window:
    """The page at `offset` of `per_page` positions of the merged list: each pin (sorted by
    position) at its position, or right after the last organic hit when there are fewer
    (pins never leave gaps); organic hits fill the other positions in their order."""
    placed: list[tuple[int, uuid.UUID]] = []
    for i, pin in enumerate(sorted(pins, key=lambda p: p.position)):
        # at most `organic_total` organic hits and `i` earlier pins can come before it
        placed.append((min(pin.position - 1, organic_total + i), pin.id))
    end = offset + per_page
    slots = {at - offset: pid for at, pid in placed if offset <= at < end}
    before = sum(1 for at, _ in placed if at < offset)
    organic_offset = offset - before
    total = organic_total + len(placed)
    count = max(0, min(end, total) - offset - len(slots))
    return Window(offset=organic_offset, count=count, slots=slots)
