"""A tenant's relevance settings: synonyms, stop words, typo switches,
in-stock first and the default sort, with their limits, and what they make of a query's
words (pure: no I/O). The API applies them at query time on every backend; engines that keep
such settings themselves (Meilisearch) get the same values as index settings.

Synonyms come in two kinds: a multi-way group (`["sneakers", "trainers", "running shoes"]`:
each term finds what the others find) and a one-way rule (`{"from": "sneakers", "to":
["trainers"]}`: `sneakers` also finds `trainers`, not the other way round). A term is one or
more words; a multi-word term matches those words next to each other in the query. An entry
may be scoped to a `locale`: it applies to searches that name that locale (`locale=de`), an
unscoped entry to every search.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from indexer.model.doctypes import DocType
from indexer.model.text import TYPO_MAX_LETTERS, TYPO_ONE_MIN, TYPO_TWO_MIN, query_words

MAX_SYNONYM_ENTRIES = 500
"""Multi-way groups plus one-way rules per tenant."""
MAX_TERMS = 20
"""Terms in one group, or targets of one one-way rule."""
MAX_TERM_CHARS = 100
MAX_STOP_WORDS = 500
MAX_TYPO_OFF_WORDS = 500
MAX_ALTERNATIVES = 16
"""Alternatives one query word (or phrase) expands to: bounds the query a synonym set can
build, so no tenant can make every search of theirs (and the machine) slow."""
LOCALE = r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$"
"""A language or locale tag: `de`, `en-GB`, `pt_BR`."""

HAS_WORD = r"\w"
"""At least one letter or digit (unanchored: JSON Schema's and Python's `\\w` agree on it)."""
Locale = Annotated[str, Field(pattern=LOCALE, max_length=12)]
Term = Annotated[str, Field(min_length=1, max_length=MAX_TERM_CHARS, pattern=HAS_WORD)]
Word = Annotated[str, Field(min_length=1, max_length=50, pattern=HAS_WORD)]
ProductSort = Literal["relevance", "price:asc", "price:desc", "created_at:desc",
                      "created_at:asc", "title:asc", "title:desc"]
ContentSort = Literal["relevance", "published_at:desc", "published_at:asc", "created_at:desc",
                      "created_at:asc", "title:asc", "title:desc"]
class _Strict(BaseModel):
    # Python's `re`, so `\w` means here what it means where queries are split (and in the
    # schema-driven tests, which draw strings with it)
    model_config = ConfigDict(extra="forbid", frozen=True, regex_engine="python-re")


def words_of(term: str) -> tuple[str, ...]:
    """A term as the words a query is split into (casefolded); () when it has none."""
    return tuple(query_words(term))


def _one_term(value: str) -> str:
    """A term as its words, one space apart (the pattern guarantees one at least)."""
    return " ".join(words_of(value))


class SynonymGroup(_Strict):
    """Multi-way: every term finds what the others find."""

    terms: list[Term] = Field(min_length=2, max_length=MAX_TERMS)
    locale: Locale | None = None

    @field_validator("terms")
    @classmethod
    def _normalized(cls, value: list[str]) -> list[str]:
        terms = list(dict.fromkeys(_one_term(t) for t in value))
        if len(terms) < 2:
            raise ValueError("a group needs two different terms")
        return terms


class OneWaySynonym(_Strict):
    """One-way: `from` also finds each of `to`, not the other way round."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    source: Term = Field(alias="from")
    to: list[Term] = Field(min_length=1, max_length=MAX_TERMS)
    locale: Locale | None = None

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return _one_term(value)

    @field_validator("to")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(_one_term(t) for t in value))


class Synonyms(_Strict):
    """`groups` (each a list of terms, or `{"terms": [...], "locale": "de"}`) and `one_way`
    rules (`{"from": "a", "to": ["b", "c"]}`)."""

    groups: list[SynonymGroup] = Field(default_factory=list)
    one_way: list[OneWaySynonym] = Field(default_factory=list)

    @field_validator("groups", mode="before")
    @classmethod
    def _bare_lists(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"terms": g} if isinstance(g, list) else g for g in value]
        return value

    @model_validator(mode="after")
    def _bounded(self) -> Synonyms:
        if len(self.groups) + len(self.one_way) > MAX_SYNONYM_ENTRIES:
            raise ValueError(f"at most {MAX_SYNONYM_ENTRIES} groups and one-way rules in all")
        return self


class StopWords(_Strict):
    words: list[Word] = Field(default_factory=list, max_length=MAX_STOP_WORDS)
    locale: Locale | None = None

    @field_validator("words")
    @classmethod
    def _each_word(cls, value: list[str]) -> list[str]:
        # an entry of several words makes each of them a stop word
        return list(dict.fromkeys(w for entry in value for w in words_of(entry)))


class TypoTolerance(_Strict):
    enabled: bool = True
    one_typo_min: int = Field(default=TYPO_ONE_MIN, ge=1, le=30)
    two_typos_min: int = Field(default=TYPO_TWO_MIN, ge=1, le=30)
    disable_on_words: list[Word] = Field(default_factory=list, max_length=MAX_TYPO_OFF_WORDS)
    """Words matched exactly only (brand names): a query word equal to one gets no typos."""

    @model_validator(mode="after")
    def _ordered(self) -> TypoTolerance:
        if self.two_typos_min < self.one_typo_min:
            raise ValueError("two_typos_min must not be below one_typo_min")
        return self

    @field_validator("disable_on_words")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(w for v in value for w in words_of(v)))


def _integral(value: Any) -> Any:
    """JSON's 2.0 as 2 (JSON Schema's `integer` takes it); strings and booleans stay refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Tier = Annotated[int, Field(strict=True, ge=1, le=3), BeforeValidator(_integral)]
"""A field's place in ranking rule 3 (best field): 1 ranks first."""
TIER_LETTERS = "ABC"
"""Tier 1, 2, 3 as PostgreSQL's tsvector weights."""


class ProductWeights(_Strict):
    """The tier of each searchable field of products (the defaults: README, Ranking rules).
    The field order is the order of the letters stored for the document builders."""

    title: Tier = 1
    subtitle: Tier = 2
    tags: Tier = 2
    categories: Tier = 2
    options: Tier = 2
    """Option values (`Red`, `XL`)."""
    description: Tier = 3
    meta: Tier = 3
    """The meta (SEO) title and description."""


class ContentWeights(_Strict):
    """The tier of each searchable field of content nodes, in stored order."""

    title: Tier = 1
    excerpt: Tier = 2
    tags: Tier = 2
    category: Tier = 2
    body: Tier = 3
    author: Tier = 3
    """The author's display name."""
    meta: Tier = 3


class FieldWeights(_Strict):
    """Per-field weights within ranking rule 3: the tier of each searchable field, per
    document type. A field not named keeps its default tier. The tier is part of the index
    on every backend: a change reindexes the tenant."""

    products: ProductWeights = Field(default_factory=ProductWeights)
    content: ContentWeights = Field(default_factory=ContentWeights)

    def of(self, doc_type: DocType) -> ProductWeights | ContentWeights:
        return self.products if doc_type == "product" else self.content

    def letters(self, doc_type: DocType, default: bool = False) -> str | None:
        """The tiers of `doc_type` as the letters the document builders read (field order;
        None for the defaults, which the builders know, unless `default`)."""
        weights = self.of(doc_type)
        if weights == type(weights)() and not default:
            return None
        return "".join(TIER_LETTERS[tier - 1] for tier in weights.model_dump().values())


FIELDS: dict[DocType, tuple[str, ...]] = {
    "product": tuple(ProductWeights.model_fields), "content": tuple(ContentWeights.model_fields)}
"""The weighable fields of each document type, in stored order."""
DEFAULT_LETTERS: dict[DocType, str] = {
    "product": FieldWeights().letters("product", default=True) or "",
    "content": FieldWeights().letters("content", default=True) or ""}
"""The default tiers as letters (`indexer/sql/documents.sql` falls back to the same)."""


def field_tiers(doc_type: DocType, letters: str | None) -> dict[str, int]:
    """Field → tier from the stored letters of `doc_type` (None: the defaults)."""
    stored = letters or DEFAULT_LETTERS[doc_type]
    return {name: TIER_LETTERS.index(letter) + 1
            for name, letter in zip(FIELDS[doc_type], stored, strict=True)}


class DefaultSort(_Strict):
    """The sort of a search that names none."""

    products: ProductSort = "relevance"
    content: ContentSort = "relevance"


class SearchSettings(_Strict):
    """Everything a tenant tunes; every field has a default, so `{}` is a valid setting."""

    synonyms: Synonyms = Field(default_factory=Synonyms)
    stop_words: list[StopWords] = Field(default_factory=list, max_length=20)
    typo_tolerance: TypoTolerance = Field(default_factory=TypoTolerance)
    default_sort: DefaultSort = Field(default_factory=DefaultSort)
    field_weights: FieldWeights = Field(default_factory=FieldWeights)

    @field_validator("stop_words", mode="before")
    @classmethod
    def _bare_words(cls, value: Any) -> Any:
        # a plain list of words is one unscoped list
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [{"words": value}] if value else []
        return value

    def stop_word_set(self, locale: str | None) -> frozenset[str]:
        return frozenset(w for sw in self.stop_words if _applies(sw.locale, locale)
                         for w in sw.words)


def _applies(scoped: str | None, locale: str | None) -> bool:
    return scoped is None or (locale is not None and _norm_locale(scoped) ==
                              _norm_locale(locale))


def _norm_locale(tag: str) -> str:
    return tag.replace("_", "-").lower()


SynonymMap = dict[tuple[str, ...], tuple[tuple[str, ...], ...]]
"""A source term (as words) → the terms it also finds (as words)."""
Alternatives = tuple[tuple[str, ...], ...]
"""What one position of a query matches: each alternative is a sequence of words (a phrase
when it has several), the typed one first."""


def without_stop_words(words: Sequence[str], stop: Iterable[str]) -> list[str]:
    """`words` without the stop words, unless that would leave nothing (a query made only of
    stop words searches them as typed)."""
    stopset = frozenset(stop)
    kept = [w for w in words if w not in stopset]
    return kept or list(words)


def synonym_map(synonyms: Synonyms, locale: str | None) -> SynonymMap:
    """Each source term (as words) → the terms it also finds (as words), for `locale`."""
    out: dict[tuple[str, ...], dict[tuple[str, ...], None]] = {}
    for group in synonyms.groups:
        if not _applies(group.locale, locale):
            continue
        terms = [words_of(t) for t in group.terms]
        for term in terms:
            targets = out.setdefault(term, {})
            for other in terms:
                if other != term:
                    targets[other] = None
    for rule in synonyms.one_way:
        if _applies(rule.locale, locale):
            targets = out.setdefault(words_of(rule.source), {})
            for target in rule.to:
                if words_of(target) != words_of(rule.source):
                    targets[words_of(target)] = None
    return {term: tuple(targets) for term, targets in out.items()}


def expand(words: Sequence[str], synonyms: SynonymMap) -> list[Alternatives]:
    """The query's words as positions, each with its alternatives: the longest source term
    that starts at a position (multi-word terms first) takes those words as one position,
    matched as typed or as any of its synonyms; other words stand alone. At most
    `MAX_ALTERNATIVES` per position, the typed words always first."""
    longest = max((len(t) for t in synonyms), default=0)
    out: list[Alternatives] = []
    i = 0
    while i < len(words):
        for size in range(min(longest, len(words) - i), 0, -1):
            term = tuple(words[i:i + size])
            if term in synonyms:
                alternatives = (term, *synonyms[term])[:MAX_ALTERNATIVES]
                out.append(alternatives)
                i += size
                break
        else:
            out.append(((words[i],),))
            i += 1
    return out


def has_synonyms(positions: Sequence[Alternatives]) -> bool:
    return any(len(alternatives) > 1 for alternatives in positions)


@dataclass(frozen=True)
class TextRules:
    """What a tenant's settings make of user text, for the query compilers (pure): the
    positions of a query (stop words out, synonyms in) and each word's typo budget."""

    synonyms: SynonymMap = field(default_factory=dict)
    stop_words: frozenset[str] = frozenset()
    typo: TypoTolerance = field(default_factory=TypoTolerance)
    _no_typos: frozenset[str] = field(default=frozenset(), repr=False)

    @classmethod
    def of(cls, settings: SearchSettings, locale: str | None = None) -> TextRules:
        return cls(synonyms=synonym_map(settings.synonyms, locale),
                   stop_words=settings.stop_word_set(locale), typo=settings.typo_tolerance,
                   _no_typos=frozenset(settings.typo_tolerance.disable_on_words))

    def positions(self, words: Sequence[str]) -> list[Alternatives]:
        """The query's words without stop words, each position with its synonyms."""
        return expand(without_stop_words(words, self.stop_words), self.synonyms)

    def typo_budget(self, word: str) -> int:
        """`indexer.model.text.typo_budget` under the tenant's typo settings."""
        n = len(word)
        if not self.typo.enabled or word in self._no_typos or n > TYPO_MAX_LETTERS or \
                n < self.typo.one_typo_min:
            return 0
        return 2 if n >= max(self.typo.two_typos_min, self.typo.one_typo_min) else 1

    @property
    def plain(self) -> bool:
        """No setting changes what the shared rules do with text."""
        return not self.synonyms and not self.stop_words and self.typo == TypoTolerance()


DEFAULT_TEXT_RULES = TextRules()
