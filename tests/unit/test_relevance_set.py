"""The relevance set is data computed from the deterministic demo catalog: enough queries of
every kind, each typo within the rules' budget of the word it misspells, and expected
products that follow from the rules, not from any backend (pure)."""

from __future__ import annotations

import pytest

from bench.relevance_set import (
    Expected,
    Query,
    catalog_products,
    match_class,
    osa_distance,
    recall_at,
    reciprocal_rank,
    relevance_set,
    stem,
    typo_cost,
)

PLAN, SET = relevance_set(240)
BY_Q = {e.query.q: e for e in SET}
CATEGORIES = {"single word", "prefix", "typo title", "typo description", "typo tags",
              "typo category", "typo option", "typo subtitle", "plural", "multi-word", "sku",
              "category name", "no result"}


def test_sixty_queries_of_every_kind_each_expecting_products_or_none() -> None:
    assert len(SET) >= 60 and {e.query.category for e in SET} == CATEGORIES
    assert len({e.query.id for e in SET}) == len(SET)
    for e in SET:
        assert bool(e.relevant) == (e.query.category != "no result"), e.query
        assert e.relevant <= e.matches
    assert relevance_set(240)[1] == SET  # deterministic


@pytest.mark.parametrize(("typo", "word"), [
    ("lether", "leather"), ("wallte", "wallet"), ("headphnoes", "headphones"),
    ("watreproof", "waterproof"), ("costumers", "customers"), ("knitwaer", "knitwear"),
    ("olvie", "olive"), ("nordvk", "nordvik"), ("brightwatr", "brightwater")])
def test_typo_queries_are_within_the_budget_of_their_word(typo: str, word: str) -> None:
    assert typo_cost(typo, word) is not None
    assert BY_Q[typo].relevant  # and the catalog holds the word


def test_the_rules_of_the_reference_matcher() -> None:
    assert osa_distance("jakcet", "jacket") == 1 and osa_distance("abc", "abc") == 0
    assert typo_cost("jakcet", "jacket") == 1
    assert typo_cost("wool", "wood") is None  # 4 letters: no typo
    assert typo_cost("kacket", "jacket") is None  # a first letter costs two
    assert typo_cost("costumers", "customers") == 2  # 9 letters: two
    assert stem("watches") == stem("watch") and stem("lamps") == "lamp"
    assert stem("glass") == "glass"
    # exact and stem matches are one class, before prefixes; typos before field tiers
    wallets = BY_Q["wallets"]
    assert wallets.relevant == BY_Q["wallet"].relevant
    sneaker = BY_Q["sneaker"]  # the plural stem beats "speaker", one typo away
    assert all("sneakers" in h for h in sneaker.relevant)
    assert any("speaker" in h for h in sneaker.matches - sneaker.relevant)


def test_identifiers_match_whole_and_first() -> None:
    readable = catalog_products(PLAN)
    product = readable[0]
    sku = next(iter(product.identifiers - {product.handle}))
    assert match_class(sku.upper(), product) == (0,)
    assert match_class(sku[:-1], product) is None  # no prefix, no typo on identifiers
    for e in SET:
        if e.query.category == "sku":
            assert len(e.relevant) == 1


def test_metrics() -> None:
    some = Expected(Query("x", "c", "x"), frozenset({"a", "b"}))
    assert recall_at(some, ["c", "a", "b"]) == 1.0 and reciprocal_rank(some, ["c", "a"]) == 0.5
    assert recall_at(some, ["c"]) == 0.0 and reciprocal_rank(some, []) == 0.0
    none = Expected(Query("y", "no result", "y"), frozenset())
    assert recall_at(none, []) == 1.0 and recall_at(none, ["a"]) == 0.0
    assert reciprocal_rank(none, []) == 1.0
