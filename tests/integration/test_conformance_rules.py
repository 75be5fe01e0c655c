"""Merchandising rules on every backend (the conformance catalog): pins at their positions on
every page, pins the shopper's filters exclude left out, hidden documents gone, filters set by
a rule, and totals and facet counts that agree with the hits shown."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from search_api.merchandising import search_with_plan
from search_api.model import SearchQuery, SearchResult, SearchScope
from search_api.rules import Rule, RuleSpec, plan
from tests.integration import test_conformance as conformance
from tests.integration.test_conformance import BACKENDS, World

world = conformance.world
"""The conformance catalog on every backend (its own copy for this module)."""

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def _rule(world: World, consequences: dict[str, Any], condition: dict[str, Any] | None = None,
          n: int = 1) -> Rule:
    def ref(name: str) -> str:
        return str(world.ids[name])

    body = dict(consequences)
    if "pin" in body:
        body["pin"] = [{"id": ref(name), "position": pos} for name, pos in body["pin"]]
    if "hide" in body:
        body["hide"] = [ref(name) for name in body["hide"]]
    spec = RuleSpec.model_validate({"condition": condition or {}, "consequences": body})
    return Rule.model_validate({**spec.model_dump(), "id": uuid.UUID(int=n),
                                "created_at": NOW, "updated_at": NOW})


async def _search(world: World, backend: str, raw: dict[str, Any],
                  rules: list[Rule] | None = None) -> SearchResult:
    if "filter" in raw and "categories" in raw["filter"]:
        raw = {**raw, "filter": {**raw["filter"], "categories": [
            str(world.ids[n]) for n in raw["filter"]["categories"]]}}
    query = SearchQuery.model_validate(raw)
    scope = SearchScope(tenant_id=world.tenant)
    return await search_with_plan(world.backends[backend], query, scope,
                                  plan(rules or [], query, NOW))


async def _all_pages(world: World, backend: str, raw: dict[str, Any], rules: list[Rule],
                     per_page: int) -> tuple[list[str], set[int]]:
    titles: list[str] = []
    totals: set[int] = set()
    page = 1
    while True:
        result = await _search(world, backend, {**raw, "page": page, "per_page": per_page},
                               rules)
        totals.add(result.total)
        if not result.hits:
            return titles, totals
        titles += world.titles(result)
        page += 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_pin_goes_first_and_the_rest_keep_their_order(world: World,
                                                              backend: str) -> None:
    plain = await _search(world, backend, {"q": "leather"})
    rules = [_rule(world, {"pin": [("Wool hat", 1)]}, {"query": "leather"})]
    pinned = await _search(world, backend, {"q": "leather"}, rules)
    assert world.titles(pinned) == ["Wool hat", *world.titles(plain)]
    assert pinned.total == plain.total + 1
    # another query: the rule does not apply
    other = await _search(world, backend, {"q": "hat"}, rules)
    assert world.titles(other) == world.titles(await _search(world, backend, {"q": "hat"}))


@pytest.mark.parametrize("backend", BACKENDS)
async def test_pins_keep_their_positions_across_pages(world: World, backend: str) -> None:
    raw = {"sort": "title:asc"}
    organic, _ = await _all_pages(world, backend, raw, [], per_page=3)
    rules = [_rule(world, {"pin": [("Straw hat", 1), ("Bag of marbles", 4),
                                   ("Wool hat", 90)]})]
    rest = [t for t in organic if t not in {"Straw hat", "Bag of marbles", "Wool hat"}]
    want = ["Straw hat", *rest[:2], "Bag of marbles", *rest[2:], "Wool hat"]
    for per_page in (1, 2, 3, 5):
        got, totals = await _all_pages(world, backend, raw, rules, per_page)
        assert got == want, per_page
        assert totals == {len(organic)}


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_pin_the_filters_exclude_is_not_forced_in(world: World, backend: str) -> None:
    raw = {"q": "leather", "filter": {"categories": ["Shoes"]}}
    plain = await _search(world, backend, raw)
    rules = [_rule(world, {"pin": [("Wool hat", 1), ("Canvas sneakers", 2)]})]
    got = await _search(world, backend, raw, rules)
    assert "Wool hat" not in world.titles(got)
    assert world.titles(got)[1] == "Canvas sneakers"
    assert got.total == plain.total
    assert sorted(world.titles(got)) == sorted(world.titles(plain))


@pytest.mark.parametrize("backend", BACKENDS)
async def test_hidden_documents_leave_hits_totals_and_facets(world: World,
                                                            backend: str) -> None:
    raw = {"q": "leather", "facets": ["categories", "tags"]}
    plain = await _search(world, backend, raw)
    assert "Leather boots" in world.titles(plain)
    got = await _search(world, backend, raw, [_rule(world, {"hide": ["Leather boots"]})])
    assert world.titles(got) == [t for t in world.titles(plain) if t != "Leather boots"]
    assert got.total == plain.total - 1
    shoes, new = str(world.ids["Shoes"]), "new"
    assert got.facets["categories"].get(shoes, 0) == plain.facets["categories"][shoes] - 1
    assert got.facets["tags"].get(new, 0) == plain.facets["tags"][new] - 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_facet_counts_include_the_pinned_documents(world: World, backend: str) -> None:
    raw = {"q": "leather", "facets": ["categories", "tags"]}
    plain = await _search(world, backend, raw)
    got = await _search(world, backend, raw, [_rule(world, {"pin": [("Wool hat", 2)]})])
    hats = str(world.ids["Hats"])
    assert got.facets["categories"][hats] == plain.facets["categories"].get(hats, 0) + 1
    assert got.facets["tags"]["eco"] == plain.facets["tags"].get("eco", 0) + 1
    assert sum(got.facets["categories"].values()) == \
        sum(plain.facets["categories"].values()) + 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_rule_filter_is_applied(world: World, backend: str) -> None:
    rules = [_rule(world, {"filter": {"add": {"has_stock": True}}}, {"contains": "leather"})]
    got = await _search(world, backend, {"q": "leather"}, rules)
    assert "Canvas sneakers" not in world.titles(got)  # out of stock
    assert {"Leather wallet", "Leather boots"} <= set(world.titles(got))
    # the shopper's own has_stock choice is kept by `add`
    mine = await _search(world, backend, {"q": "leather", "filter": {"has_stock": False}},
                         rules)
    assert "Canvas sneakers" in world.titles(mine)
    assert not {"Leather wallet", "Leather boots"} & set(world.titles(mine))
