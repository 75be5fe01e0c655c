"""Merchandising rules on every backend (the conformance catalog): pins at their positions on
every page, pins the shopper's filters exclude left out, hidden documents gone, filters set by
a rule, and totals and facet counts that agree with the hits shown."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from indexer.model import DocType
from indexer.model.relevance import SearchSettings, TextRules
from search_api.backends import SearchBackend
from search_api.merchandising import search_with_plan
from search_api.model import SearchQuery
from search_api.results import SearchResult, Suggestion
from search_api.rules import Rule, RuleSpec, plan
from search_api.scope import SearchScope
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
    for tiered in ("boost", "bury"):
        if "categories" in body.get(tiered, {}):
            body[tiered] = {**body[tiered],
                            "categories": [ref(n) for n in body[tiered]["categories"]]}
    spec = RuleSpec.model_validate({"condition": condition or {}, "consequences": body})
    return Rule.model_validate({**spec.model_dump(), "id": uuid.UUID(int=n),
                                "created_at": NOW, "updated_at": NOW})


async def _search(world: World, backend: str, raw: dict[str, Any],
                  rules: list[Rule] | None = None, in_stock_first: bool = False
                  ) -> SearchResult:
    if "filter" in raw and "categories" in raw["filter"]:
        raw = {**raw, "filter": {**raw["filter"], "categories": [
            str(world.ids[n]) for n in raw["filter"]["categories"]]}}
    query = SearchQuery.model_validate(raw)
    scope = SearchScope(tenant_id=world.tenant, in_stock_first=in_stock_first)
    return await search_with_plan(world.backends[backend], query, scope,
                                  plan(rules or [], query, NOW))


async def _all_pages(world: World, backend: str, raw: dict[str, Any], rules: list[Rule],
                     per_page: int, in_stock_first: bool = False) -> tuple[list[str], set[int]]:
    titles: list[str] = []
    totals: set[int] = set()
    page = 1
    while True:
        result = await _search(world, backend, {**raw, "page": page, "per_page": per_page},
                               rules, in_stock_first)
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


# ---- boost and bury: tiers of the organic order ---------------------------------------------
BY_TITLE = {"sort": "title:asc"}
"""Published catalog products by title: Bag of marbles, Canvas sneakers, Feather pillow,
Leather boots, Leather wallet, Straw hat, Wool hat."""


async def _every_page_size(world: World, backend: str, raw: dict[str, Any],
                           rules: list[Rule], want: list[str],
                           in_stock_first: bool = False) -> None:
    """`want` page by page at four page sizes: page boundaries inside a tier and across."""
    for per_page in (1, 2, 3, 5):
        got, totals = await _all_pages(world, backend, raw, rules, per_page, in_stock_first)
        assert got == want, per_page
        assert totals == {len(want)}, per_page


TIERED = [
    pytest.param([{"boost": {"tags": ["eco"]}}], [
        "Canvas sneakers", "Wool hat",  # boosted, by title
        "Bag of marbles", "Feather pillow", "Leather boots", "Leather wallet", "Straw hat"],
        id="boost"),
    pytest.param([{"bury": {"has_stock": False}}], [
        "Leather boots", "Leather wallet", "Straw hat", "Wool hat",
        "Bag of marbles", "Canvas sneakers", "Feather pillow"],  # buried, by title
        id="bury"),
    # Wool hat is eco (boosted) and a hat (buried): a document matching both stays in the rest
    pytest.param([{"boost": {"tags": ["eco"]}, "bury": {"categories": ["Hats"]}}], [
        "Canvas sneakers",
        "Bag of marbles", "Feather pillow", "Leather boots", "Leather wallet", "Wool hat",
        "Straw hat"], id="both-is-neither"),
    # Bag of marbles has no price at all, Feather pillow none in EUR: neither matches, and
    # neither is lost from the rest (a missing field is "does not match" on every engine)
    pytest.param([{"boost": {"price": {"currency": "EUR", "min": 5000}},
                   "bury": {"price": {"currency": "EUR", "max": 2000}}}], [
        "Leather boots",
        "Bag of marbles", "Canvas sneakers", "Feather pillow", "Straw hat", "Wool hat",
        "Leather wallet"], id="missing-field"),
    pytest.param([{"boost": {"tags": ["eco"]}, "pin": [("Straw hat", 1), ("Bag of marbles", 4)]}],
                 ["Straw hat", "Canvas sneakers", "Wool hat", "Bag of marbles",
                  "Feather pillow", "Leather boots", "Leather wallet"], id="pins-over-tiers"),
    # boosts add up over rules (new or sale), and a shoe is buried by the third: Leather
    # boots and Canvas sneakers match both; the hidden Straw hat stays out
    pytest.param([{"boost": {"tags": ["new"]}},
                  {"boost": {"tags": ["sale"]}, "hide": ["Straw hat"]},
                  {"bury": {"categories": ["Shoes"]}}], [
        "Leather wallet",
        "Bag of marbles", "Canvas sneakers", "Feather pillow", "Leather boots", "Wool hat"],
        id="several-rules"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("consequences", "want"), TIERED)
async def test_boost_and_bury_tier_every_page(world: World, backend: str,
                                              consequences: list[dict[str, Any]],
                                              want: list[str]) -> None:
    rules = [_rule(world, c, n=n) for n, c in enumerate(consequences, 1)]
    await _every_page_size(world, backend, BY_TITLE, rules, want)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_content_is_tiered_by_its_own_filter_fields(world: World, backend: str) -> None:
    raw = {"doc_type": "content", "sort": "title:asc"}
    plain = world.titles(await _search(world, backend, raw))
    assert plain == ["About us", "Leather care guide", "Summer news"]
    # `tags` is a field of both filters: read as the content filter's
    rules = [_rule(world, {"boost": {"kind": ["post"]}, "bury": {"tags": ["eco"]}},
                   {"doc_type": "content"})]
    got = await _search(world, backend, raw, rules)
    assert world.titles(got) == ["Summer news", "About us", "Leather care guide"]
    assert got.total == len(plain)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_each_tier_keeps_the_in_stock_first_order(world: World, backend: str) -> None:
    rules = [_rule(world, {"boost": {"tags": ["eco"]}})]
    await _every_page_size(world, backend, BY_TITLE, rules, [
        "Wool hat", "Canvas sneakers",  # boosted: in stock first
        "Leather boots", "Leather wallet", "Straw hat", "Bag of marbles", "Feather pillow"],
        in_stock_first=True)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_boost_keeps_the_relevance_order_within_each_tier(world: World,
                                                                backend: str) -> None:
    plain = world.titles(await _search(world, backend, {"q": "leather"}))
    rules = [_rule(world, {"boost": {"tags": ["sale"]}}, {"query": "leather"})]
    got = world.titles(await _search(world, backend, {"q": "leather"}, rules))
    sale = {"Leather wallet", "Canvas sneakers"}
    assert sale <= set(plain)
    assert got == [t for t in plain if t in sale] + [t for t in plain if t not in sale]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_boost_and_bury_change_neither_totals_nor_facets(world: World,
                                                              backend: str) -> None:
    raw = {"q": "leather", "facets": ["categories", "tags", "has_stock", "price"],
           "currency": "EUR"}
    plain = await _search(world, backend, raw)
    rules = [_rule(world, {"boost": {"tags": ["new"]}, "bury": {"has_stock": False}})]
    got = await _search(world, backend, raw, rules)
    assert got.total == plain.total
    # the same counts in the same (documented) order
    assert [list(v.items()) for v in got.facets.values()] == \
        [list(v.items()) for v in plain.facets.values()]
    assert got.facet_stats == plain.facet_stats
    assert sorted(world.titles(got)) == sorted(world.titles(plain))
    assert world.titles(got)[0] == "Leather boots"
    assert world.titles(got)[-1] == "Canvas sneakers"


@dataclass
class Counting:
    """A real backend that records each search it is asked for (`searches`)."""

    inner: SearchBackend
    searches: list[SearchQuery] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    async def search(self, query: SearchQuery, scope: SearchScope) -> SearchResult:
        self.searches.append(query)
        return await self.inner.search(query, scope)

    async def suggest(self, doc_type: DocType, prefix: str, scope: SearchScope,
                      limit: int = 8) -> list[Suggestion]:
        return await self.inner.suggest(doc_type, prefix, scope, limit)

    async def ready(self) -> bool:
        return await self.inner.ready()

    async def caught_up(self) -> None:
        await self.inner.caught_up()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("page", "per_page", "searches", "want"), [
    # inside the boosted tier: its search and the untiered count, nothing of the others
    (1, 1, 2, ["Canvas sneakers"]),
    # into the rest: its search too; the buried tier's size is what remains
    (1, 3, 3, ["Canvas sneakers", "Bag of marbles", "Feather pillow"]),
    (2, 5, 4, ["Wool hat", "Straw hat"]),
])
async def test_tiers_are_searched_only_as_the_page_needs_them(
        world: World, backend: str, page: int, per_page: int, searches: int,
        want: list[str]) -> None:
    raw = {**BY_TITLE, "facets": ["tags", "price"], "currency": "EUR"}
    rules = [_rule(world, {"boost": {"tags": ["eco"]}, "bury": {"categories": ["Hats"]}})]
    counting = Counting(world.backends[backend])
    query = SearchQuery.model_validate({**raw, "page": page, "per_page": per_page})
    scope = SearchScope(tenant_id=world.tenant)
    got = await search_with_plan(counting, query, scope, plan(rules, query, NOW))
    assert world.titles(got) == want
    assert len(counting.searches) == searches
    # facets and stats counted once, and still those of the search without the rule
    assert sum(1 for q in counting.searches if q.facets) == 1
    plain = await _search(world, backend, raw)
    assert got.total == plain.total == 7
    assert got.facets == plain.facets
    assert got.facet_stats == plain.facet_stats


@pytest.mark.parametrize("backend", BACKENDS)
async def test_boost_under_the_shoppers_filters(world: World, backend: str) -> None:
    raw = {**BY_TITLE, "filter": {"categories": ["Shoes", "Hats"]}, "facets": ["tags"]}
    plain = await _search(world, backend, raw)
    # Leather wallet (sale) is boosted too, but the shopper's filters still leave it out
    rules = [_rule(world, {"boost": {"tags": ["new", "sale"]}})]
    got = await _search(world, backend, raw, rules)
    assert world.titles(got) == ["Canvas sneakers", "Leather boots", "Straw hat", "Wool hat"]
    assert got.total == plain.total == 4
    assert got.facets == plain.facets


# ---- synonyms, stop words, typo switches (the tenant's text rules) -------------------------
async def _texted(world: World, backend: str, q: str, settings: dict[str, Any],
                  locale: str | None = None) -> list[str]:
    """`q` under the tenant's relevance `settings`: in the search scope, as the API passes
    them to Postgres and Tantivy; as index settings on Meilisearch, which keeps them there
    (written and synced as the follower does, then put back)."""
    model = SearchSettings.model_validate(settings)
    if backend == "meilisearch":
        return await _on_meilisearch(world, q, model, locale)
    scope = SearchScope(tenant_id=world.tenant, text_rules=TextRules.of(model, locale))
    result = await world.backends[backend].search(SearchQuery(q=q), scope)
    assert not {hit.id for hit in result.hits} & world.other_ids
    return world.titles(result)


async def _on_meilisearch(world: World, q: str, settings: SearchSettings,
                          locale: str | None) -> list[str]:
    from indexer.meili.indexes import MeiliIndexes
    from search_api import relevance_store as store
    from search_api.backends.meilisearch import MeilisearchBackend

    meili = world.backends["meilisearch"]
    assert isinstance(meili, MeilisearchBackend)
    pool = world.backends["postgres"].pool  # type: ignore[attr-defined]
    indexes = MeiliIndexes(pool, meili.client, meili.config)
    await store.replace_settings(pool, world.tenant, settings, "test")
    try:
        await indexes.open()  # brings every index's settings in line, the tenant's included
        result = await meili.search(SearchQuery(q=q, locale=locale),
                                    SearchScope(tenant_id=world.tenant))
        return world.titles(result)
    finally:
        await store.replace_settings(pool, world.tenant, SearchSettings(), "test")
        await indexes.open()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_multi_way_synonyms_find_each_other(world: World, backend: str) -> None:
    assert await _texted(world, backend, "trainers", {}) == []
    group = {"synonyms": {"groups": [["sneakers", "trainers"]]}}
    assert await _texted(world, backend, "trainers", group) == ["Canvas sneakers"]
    # the typed word still matches as typed, and each term finds the other
    assert "Canvas sneakers" in await _texted(world, backend, "sneakers", group)
    # every other word of the query is still required
    assert await _texted(world, backend, "trainers wool", group) == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_one_way_and_multi_word_synonyms(world: World, backend: str) -> None:
    one_way = {"synonyms": {"one_way": [{"from": "footwear", "to": ["boots", "sneakers"]}]}}
    assert sorted(await _texted(world, backend, "footwear", one_way)) == [
        "Canvas sneakers", "Leather boots"]
    assert "Leather boots" in await _texted(world, backend, "boots", one_way)
    assert await _texted(world, backend, "wellies", one_way) == []
    multi = {"synonyms": {"groups": [["pillow", "head rest"]]}}
    assert await _texted(world, backend, "head rest", multi) == ["Feather pillow"]
    assert await _texted(world, backend, "head", multi) == []  # one word of the term alone


@pytest.mark.parametrize("backend", BACKENDS)
async def test_locale_scoped_synonyms(world: World, backend: str) -> None:
    settings = {"synonyms": {"groups": [{"terms": ["hut", "hat"], "locale": "de"}]}}
    assert await _texted(world, backend, "hut", settings) == []
    if backend == "meilisearch":
        # Meilisearch keeps synonyms as index settings, not per search: entries scoped to a
        # locale are left out there (README, Relevance controls)
        assert await _texted(world, backend, "hut", settings, "de") == []
        return
    assert sorted(await _texted(world, backend, "hut", settings, "de")) == [
        "Straw hat", "Wool hat"]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_stop_words_are_left_out(world: World, backend: str) -> None:
    assert await _texted(world, backend, "my wool hat", {}) == []
    assert await _texted(world, backend, "my wool hat", {"stop_words": ["my"]}) == [
        "Wool hat"]
    # a query made of stop words only is searched as typed
    assert await _texted(world, backend, "hat", {"stop_words": ["hat"]}) != []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_typo_switches(world: World, backend: str) -> None:
    assert "Leather boots" in await _texted(world, backend, "boats", {})
    assert await _texted(world, backend, "boats",
                         {"typo_tolerance": {"disable_on_words": ["boats"]}}) == []
    assert await _texted(world, backend, "boats", {"typo_tolerance": {"enabled": False}}) == []
    assert await _texted(world, backend, "boats",
                         {"typo_tolerance": {"one_typo_min": 6}}) == []
