"""The relevance test set (issue 13, point 6): queries on the deterministic demo catalog with
the products that should come first for each, computed from the generated catalog by a
reference matcher that follows README's ranking rules (pure: no I/O).

The expected products of a query are not written down by hand and never copied from what a
backend answered: `expected` matches every published product of `plan_demo` word by word as
the rules say (exact, stem, prefix of the last word, typos by length with the first letter
costing two; identifiers whole and exact) and keeps the best class of matches, i.e. the
products an engine that follows the rules ranks first:

    (identifier match first, fewer typos, best field tier, whole words before a prefix)

Stock is not part of the class: the relevance tenant turns `in_stock_first` off, so the set
measures text relevance (tier 0 has its own conformance cases). Stemming here is a small
English plural rule (the relevance tenant's language is `english`), enough for the plural
queries of the set, which use regular plurals only; Snowball stems more, which can only add
matches in lower classes for these words.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core_write.validate import slugify
from rustok_search.demo_data import CATEGORY_TREE, ProductPlan, TenantPlan, plan_demo

SEED = 1
"""The seed of `bench.lifecycle.scratch_catalog` (one tenant, demo-0, language english)."""
TOP = 10
"""Metrics read the first TOP hits (recall@10, MRR@10)."""

TYPO_ONE_MIN, TYPO_TWO_MIN, TYPO_MAX_LETTERS = 5, 9, 24
"""README's typo rule (the engines read theirs from `indexer.model.text`)."""

_WORD = re.compile(r"\w+")
_CATEGORY_NAMES = {slugify(leaf): leaf for leaves in CATEGORY_TREE.values() for leaf in leaves}

FIELD_TIERS = ("title", "subtitle/tags/categories/options", "description/meta")


@dataclass(frozen=True)
class Query:
    id: str
    category: str
    q: str
    why: str = ""
    """What the query exercises, for the report of failing queries."""


@dataclass(frozen=True)
class Product:
    """A published product's searchable text as the reference matcher reads it."""

    handle: str
    identifiers: frozenset[str]
    fields: tuple[tuple[str, ...], ...]
    """Words per field tier (`FIELD_TIERS`)."""


@dataclass(frozen=True)
class Expected:
    query: Query
    relevant: frozenset[str]
    """Handles of the products an engine following the rules ranks first (empty: the query
    must find nothing at all)."""
    matches: frozenset[str] = frozenset()
    """Handles of every product the query matches (any class)."""


def words(text: str | None) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text or "")]


def stem(word: str) -> str:
    """English plural to singular for regular plurals (see the module docstring)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def osa_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment: a transposition is 1 edit)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def typo_cost(query_word: str, doc_word: str) -> int | None:
    """Typos between a query word and a document word when the rules allow them, else None:
    1 from 5 letters, 2 from 9, none past 24; a different first letter costs one more."""
    n = len(query_word)
    budget = 0 if n < TYPO_ONE_MIN or n > TYPO_MAX_LETTERS else 2 if n >= TYPO_TWO_MIN else 1
    if budget == 0 or abs(len(doc_word) - n) > budget:
        return None
    cost = osa_distance(query_word, doc_word) + (query_word[0] != doc_word[0])
    return cost if cost <= budget else None


@functools.lru_cache(maxsize=65536)
def word_class(query_word: str, doc_word: str, prefix: bool) -> tuple[int, int] | None:
    """(typos, 1 if only a prefix match) of one query word against one document word."""
    if query_word == doc_word or stem(query_word) == stem(doc_word):
        return (0, 0)
    if prefix and doc_word.startswith(query_word):
        return (0, 1)
    typos = typo_cost(query_word, doc_word)
    return None if typos is None else (typos, 0)


def match_class(q: str, product: Product) -> tuple[int, ...] | None:
    """The rank class of `product` for `q` (lower first), None when it does not match:
    (0,) for an identifier, else (1, total typos, worst field tier of the words' best
    matches, prefix used)."""
    if q.strip().casefold() in product.identifiers:
        return (0,)
    query = words(q)
    if not query:
        return None
    prefix_last = not q[-1].isspace()
    typos = tier = prefixed = 0
    for position, word in enumerate(query):
        prefix = prefix_last and position == len(query) - 1
        best: tuple[int, int, int] | None = None
        for field_tier, doc_words in enumerate(product.fields):
            for doc_word in doc_words:
                found = word_class(word, doc_word, prefix)
                if found is not None:
                    candidate = (found[0], field_tier, found[1])
                    best = candidate if best is None else min(best, candidate)
        if best is None:
            return None
        typos, tier, prefixed = typos + best[0], max(tier, best[1]), max(prefixed, best[2])
    return (1, typos, tier, prefixed)


def catalog_products(plan: TenantPlan) -> list[Product]:
    """The published products of a tenant plan as the matcher reads them (drafts are not
    visible to search keys)."""
    out = []
    for p in plan.products:
        if p.status != "published":
            continue
        middle = [*words(p.subtitle), *(w for t in p.tags for w in words(t)),
                  *(w for c in p.categories for w in words(_CATEGORY_NAMES[c])),
                  *(w for v in p.variants for value in v.option_values for w in words(value))]
        meta = [*words(p.description), *words(p.meta_title)]
        if p.meta_title:
            meta += words(p.subtitle)  # the demo writes the subtitle as meta description
        out.append(Product(
            handle=p.handle,
            identifiers=frozenset({p.handle.casefold(),
                                   *(v.sku.casefold() for v in p.variants)}),
            fields=(tuple(words(p.title)), tuple(middle), tuple(meta))))
    return out


def expected(query: Query, products: Sequence[Product]) -> Expected:
    classes = {p.handle: c for p in products if (c := match_class(query.q, p)) is not None}
    if not classes:
        return Expected(query, frozenset(), frozenset())
    best = min(classes.values())
    return Expected(query, frozenset(h for h, c in classes.items() if c == best),
                    frozenset(classes))


# ---- the queries ----------------------------------------------------------------------------
_FIXED: list[tuple[str, list[tuple[str, str]]]] = [
    ("single word", [(w, "a title word") for w in (
        "wallet", "lamp", "chair", "backpack", "kettle", "leather", "walnut", "copper",
        "vintage", "ergonomic")]),
    ("prefix", [(q, "the last word as a prefix") for q in (
        "backp", "headph", "umbr", "ergo", "sneak", "tita", "wal", "cop")]),
    ("typo title", [(q, "a typo in a title word") for q in (
        "lether", "wallte", "backpak", "headphnoes", "umbrela", "minimalsit", "watreproof",
        "titanuim", "skilet", "ergonmic")]),
    ("typo description", [(q, "a typo in a description-only word") for q in (
        "waranty", "packgaing", "responsibley", "studoi", "surced", "costumers")]),
    ("typo tags", [(q, "a typo in a tag") for q in (
        "bestseler", "limted", "bunlde", "sumer", "wintre")]),
    ("typo category", [(q, "a typo in a category name") for q in (
        "knitwaer", "lihgting", "furnture", "cyclnig", "accesories", "kitchne")]),
    ("typo option", [(q, "a typo in an option value (colour)") for q in (
        "olvie", "ambre", "whtie", "blakc")]),
    ("typo subtitle", [(q, "a typo in the brand of the subtitle") for q in (
        "kestral", "brightwatr", "nordvk")]),
    ("plural", [(q, "singular and plural (english stems)") for q in (
        "wallets", "lamps", "chairs", "candles", "watches", "boot", "sneaker", "headphone",
        "jackets", "bottles")]),
    ("category name", [(q, "a category name") for q in (
        "lighting", "kitchen", "footwear", "audio", "camping", "knitwear")]),
    ("no result", [(q, "nothing matches") for q in (
        "xylophone", "qwzx", "zebra", "leather xylophone", "purple kettle ")]),
]


def _generated(plan: TenantPlan) -> list[Query]:
    """Queries taken from the catalog itself: multi-word (material + noun, option value +
    noun, whole titles, a prefix at the end), SKUs and handles of the first products."""
    published = [p for p in plan.products if p.status == "published"]
    out: list[Query] = []
    seen: set[str] = set()

    def add(category: str, q: str, why: str) -> None:
        if q not in seen:
            seen.add(q)
            out.append(Query(f"{category.replace(' ', '-')}-{len(out)}", category, q, why))

    for p in published[:4]:
        _, material, noun = words(p.title)
        add("multi-word", f"{material} {noun}", "two title words")
    for p in published[4:6]:
        add("multi-word", p.title.lower(), "a whole title")
    for p in published[6:8]:
        noun = words(p.title)[-1]
        colour = p.variants[0].option_values[0].lower()
        add("multi-word", f"{colour} {noun}", "an option value and a title word")
    for p in published[8:10]:
        _, material, noun = words(p.title)
        add("multi-word", f"{material} {noun[:3]}", "a title word, then a prefix")
    for p in published[10:14]:
        add("sku", p.variants[-1].sku, "a variant SKU, exactly")
    for p in published[14:16]:
        add("sku", p.handle, "a product handle, exactly")
    return out


def queries(plan: TenantPlan) -> list[Query]:
    out = [Query(f"{category.replace(' ', '-')}-{n}", category, q, why)
           for category, items in _FIXED for n, (q, why) in enumerate(items)]
    return out + _generated(plan)


def relevance_set(products: int) -> tuple[TenantPlan, list[Expected]]:
    """The catalog `scratch_catalog(products=...)` writes and every query with its expected
    products."""
    plan = plan_demo(products, 0, 1, SEED)[0]
    readable = catalog_products(plan)
    return plan, [expected(q, readable) for q in queries(plan)]


# ---- metrics ------------------------------------------------------------------------------
def recall_at(expected_: Expected, handles: Sequence[str], k: int = TOP) -> float:
    """Share of the expected products (at most k of them) among the first k hits; a query
    expecting nothing scores 1 with no hit, else 0."""
    if not expected_.relevant:
        return 1.0 if not handles else 0.0
    found = len(expected_.relevant & set(handles[:k]))
    return found / min(k, len(expected_.relevant))


def reciprocal_rank(expected_: Expected, handles: Sequence[str], k: int = TOP) -> float:
    """1/rank of the first expected product in the first k hits (0 if none); a query
    expecting nothing scores 1 with no hit."""
    if not expected_.relevant:
        return 1.0 if not handles else 0.0
    for rank, handle in enumerate(handles[:k], start=1):
        if handle in expected_.relevant:
            return 1.0 / rank
    return 0.0


def mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def product_by_handle(plan: TenantPlan) -> dict[str, ProductPlan]:
    return {p.handle: p for p in plan.products}
