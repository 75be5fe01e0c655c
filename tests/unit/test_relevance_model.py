"""Relevance settings and merchandising rules without a database: validation that names the
field, synonym expansion, stop words, which rules apply when (an injected clock), their order,
and where pins land on a page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from indexer.model.relevance import (
    MAX_ALTERNATIVES,
    SearchSettings,
    Synonyms,
    expand,
    synonym_map,
    without_stop_words,
)
from search_api.errors import from_validation
from search_api.filters import ContentFilter, FilterTest, ProductFilter
from search_api.merchandising import covering_pages
from search_api.model import SearchQuery
from search_api.rules import Pin, Rule, RuleSpec, page_window, plan, tiers

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _fields(exc: ValidationError) -> list[str]:
    """The fields the API's problem names for this error."""
    return [e["field"] for e in from_validation(exc).errors]


def test_synonym_groups_accept_bare_lists_and_normalize_terms() -> None:
    syn = Synonyms.model_validate({"groups": [["Sneakers", "trainers", "sneakers"],
                                              {"terms": ["Pulli", "Pullover"], "locale": "de"}],
                                   "one_way": [{"from": "boots", "to": ["Ankle Boots"]}]})
    assert syn.groups[0].terms == ["sneakers", "trainers"]
    assert syn.groups[1].locale == "de"
    assert syn.one_way[0].source == "boots" and syn.one_way[0].to == ["ankle boots"]


@pytest.mark.parametrize(("body", "field"), [
    ({"groups": [["only"]]}, "groups.0.terms"),
    ({"groups": [["a", "a"]]}, "groups.0.terms"),
    ({"groups": [["a", "!!!"]]}, "groups.0.terms.1"),
    ({"groups": [{"terms": ["a", "b"], "locale": "German!"}]}, "groups.0.locale"),
    ({"one_way": [{"from": "a", "to": []}]}, "one_way.0.to"),
    ({"one_way": [{"to": ["b"]}]}, "one_way.0.from"),
    ({"colours": []}, "colours"),
])
def test_bad_synonyms_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Synonyms.model_validate(body)
    assert field in _fields(caught.value)


@pytest.mark.parametrize(("body", "field"), [
    ({"weights": {"products": {"title": 2}}}, "weights"),
    ({"default_sort": {"products": "price"}}, "default_sort.products"),
    ({"typo_tolerance": {"one_typo_min": 0}}, "typo_tolerance.one_typo_min"),
    ({"stop_words": ["the", "..."]}, "stop_words.0.words.1"),
    ({"in_stock_first": "maybe"}, "in_stock_first"),
])
def test_bad_settings_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SearchSettings.model_validate(body)
    assert field in _fields(caught.value)


def test_multi_way_one_way_and_multi_word_expansion() -> None:
    syn = Synonyms.model_validate({
        "groups": [["sneakers", "trainers", "running shoes"]],
        "one_way": [{"from": "boots", "to": ["wellies"]}]})
    table = synonym_map(syn, None)
    assert expand(["trainers"], table) == [
        (("trainers",), ("sneakers",), ("running", "shoes"))]
    # a multi-word term in the query is one position
    assert expand(["red", "running", "shoes"], table) == [
        (("red",),), (("running", "shoes"), ("sneakers",), ("trainers",))]
    assert expand(["boots"], table) == [(("boots",), ("wellies",))]
    assert expand(["wellies"], table) == [(("wellies",),)]  # one way only


def test_locale_scoped_entries_apply_to_their_locale_only() -> None:
    syn = Synonyms.model_validate({"groups": [{"terms": ["pulli", "pullover"],
                                               "locale": "de"}, ["tee", "t shirt"]]})
    assert expand(["pulli"], synonym_map(syn, None)) == [(("pulli",),)]
    assert expand(["pulli"], synonym_map(syn, "de_DE".replace("_DE", ""))) == [
        (("pulli",), ("pullover",))]
    assert expand(["tee"], synonym_map(syn, "de")) == [(("tee",), ("t", "shirt"))]


def test_alternatives_are_bounded() -> None:
    terms = [f"w{i}" for i in range(20)]
    table = synonym_map(Synonyms.model_validate({"groups": [terms]}), None)
    (alternatives,) = expand(["w0"], table)
    assert len(alternatives) == MAX_ALTERNATIVES and alternatives[0] == ("w0",)


def test_stop_words_are_dropped_unless_nothing_would_be_left() -> None:
    settings = SearchSettings.model_validate({"stop_words": ["the", "of"]})
    stop = settings.stop_word_set(None)
    assert without_stop_words(["the", "lord", "of", "rings"], stop) == ["lord", "rings"]
    assert without_stop_words(["the", "of"], stop) == ["the", "of"]


def _rule(n: int, condition: dict[str, Any], consequences: dict[str, Any],
          **extra: Any) -> Rule:
    spec = RuleSpec.model_validate({"condition": condition, "consequences": consequences,
                                    **extra})
    return Rule.model_validate({**spec.model_dump(), "id": uuid.UUID(int=n),
                                "created_at": NOW - timedelta(days=1, seconds=-n),
                                "updated_at": NOW})


ID = [uuid.UUID(int=100 + i) for i in range(6)]


def test_conditions_query_contains_filters_and_time_window() -> None:
    category = str(uuid.uuid4())
    rules = [
        _rule(1, {"query": "Boots!"}, {"hide": [str(ID[0])]}),
        _rule(2, {"contains": "winter boots"}, {"hide": [str(ID[1])]}),
        _rule(3, {"filters": {"categories": [category]}}, {"hide": [str(ID[2])]}),
        _rule(4, {"query": "boots", "starts_at": NOW.isoformat(),
                  "ends_at": (NOW + timedelta(hours=1)).isoformat()}, {"hide": [str(ID[3])]}),
    ]
    assert plan(rules, SearchQuery(q="boots"), NOW).hidden == {ID[0], ID[3]}
    assert plan(rules, SearchQuery(q="boots"), NOW - timedelta(seconds=1)).hidden == {ID[0]}
    assert plan(rules, SearchQuery(q="boots"), NOW + timedelta(hours=1)).hidden == {ID[0]}
    assert plan(rules, SearchQuery(q="warm winter boots"), NOW).hidden == {ID[1]}
    assert plan(rules, SearchQuery(q="winter warm boots"), NOW).hidden == set()
    on_page = SearchQuery.model_validate({"filter": {"categories": [category, str(ID[5])]}})
    assert plan(rules, on_page, NOW).applied == (uuid.UUID(int=3),)
    assert plan(rules, SearchQuery(q="boots", doc_type="content"), NOW).applied == ()


def test_rule_order_decides_conflicts_and_hiding_beats_pinning() -> None:
    rules = [
        _rule(1, {"query": "boots"}, {"pin": [{"id": str(ID[0]), "position": 1}],
                                      "redirect": "https://shop.example/late"}, position=5),
        _rule(2, {"query": "boots"}, {"pin": [{"id": str(ID[1]), "position": 1},
                                              {"id": str(ID[2]), "position": 2}],
                                      "redirect": "https://shop.example/first",
                                      "banner": {"text": "Winter sale"}}, position=1),
        _rule(3, {"query": "boots"}, {"hide": [str(ID[2])], "banner": {"text": "b2"}},
              position=1),
        _rule(4, {"query": "boots"}, {"hide": [str(ID[4])]}, enabled=False),
    ]
    got = plan(rules, SearchQuery(q="boots"), NOW)
    assert got.applied == (uuid.UUID(int=2), uuid.UUID(int=3), uuid.UUID(int=1))
    assert [(p.id, p.position) for p in got.pins] == [(ID[1], 1)]
    assert got.hidden == {ID[2]}
    assert got.redirect == "https://shop.example/first"
    assert got.banners == ({"text": "Winter sale"}, {"text": "b2"})


def test_filter_consequences_add_and_replace() -> None:
    cat = str(uuid.uuid4())
    rules = [_rule(1, {"query": "sale"}, {"filter": {"add": {"has_stock": True},
                                                     "replace": {"tags": ["sale"]}}})]
    got = plan(rules, SearchQuery.model_validate({"q": "sale", "filter": {
        "has_stock": False, "tags": ["new"], "categories": [cat]}}), NOW)
    assert got.query is not None and got.query.filter is not None
    flt = got.query.filter.model_dump(exclude_none=True)
    assert flt["has_stock"] is False  # the shopper's own choice stays
    assert flt["tags"] == ["sale"] and [str(c) for c in flt["categories"]] == [cat]


@pytest.mark.parametrize(("body", "field"), [
    ({"condition": {"query": "x"}, "consequences": {}}, "consequences"),
    ({"condition": {"query": "x"}, "consequences": {"pin": [{"id": "nope", "position": 1}]}},
     "consequences.pin.0.id"),
    ({"condition": {"query": "x"}, "consequences": {"pin": [{"id": str(ID[0]),
                                                             "position": 0}]}},
     "consequences.pin.0.position"),
    ({"condition": {"query": "x", "starts_at": "2026-01-02T00:00:00Z",
                    "ends_at": "2026-01-01T00:00:00Z"}, "consequences": {"hide": [str(ID[0])]}},
     "condition.ends_at"),
    ({"condition": {"starts_at": "2026-01-02T00:00:00"}, "consequences": {"hide": [str(ID[0])]}},
     "condition.starts_at"),
    ({"condition": {"filters": {"colour": ["red"]}}, "consequences": {"hide": [str(ID[0])]}},
     "condition.filters.colour"),
    ({"condition": {"query": "x"}, "consequences": {"filter": {"add": {"colour": 1}}}},
     "consequences.filter.add.colour"),
    ({"condition": {"query": "x"}, "consequences": {"filter": {"add": {"kind": ["page"]}}}},
     "consequences"),
    ({"condition": {"query": "x"}, "consequences": {"redirect": "javascript:alert(1)"}},
     "consequences.redirect"),
    ({"condition": {"query": "x"}, "consequences": {"banner": {"html": "x" * 5000}}},
     "consequences.banner"),
    ({"consequences": {"boost": {"categories": ["nope"]}}}, "consequences.boost.categories.0"),
    ({"consequences": {"bury": {"colour": ["red"]}}}, "consequences.bury.colour"),
    ({"consequences": {"boost": {"price": {"currency": "EURO"}}}},
     "consequences.boost.price.currency"),
    ({"consequences": {"boost": {"kind": ["page"]}}}, "consequences"),
    ({"condition": {"doc_type": "content"}, "consequences": {"bury": {"has_stock": True}}},
     "consequences"),
])
def test_bad_rules_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RuleSpec.model_validate(body)
    assert field in _fields(caught.value), caught.value


def _merged(pins: list[Pin], organic: list[str], per_page: int) -> list[str]:
    """The whole merged list, page by page, through `page_window` alone."""
    out: list[str] = []
    total = len(organic) + len(pins)
    for offset in range(0, total, per_page):
        w = page_window(pins, len(organic), offset, per_page)
        rest = iter(organic[w.offset:w.offset + w.count])
        for slot in range(w.count + len(w.slots)):
            out.append(str(w.slots[slot]) if slot in w.slots else next(rest))
    return out


def test_pins_take_their_positions_on_every_page() -> None:
    organic = [f"o{i}" for i in range(7)]
    pins = [Pin(id=ID[0], position=1), Pin(id=ID[1], position=4), Pin(id=ID[2], position=50)]
    want = [str(ID[0]), "o0", "o1", str(ID[1]), *organic[2:], str(ID[2])]
    for per_page in (1, 2, 3, 4, 20):
        assert _merged(pins, organic, per_page) == want, per_page


def test_pins_without_organic_hits() -> None:
    pins = [Pin(id=ID[0], position=3), Pin(id=ID[1], position=1)]
    assert _merged(pins, [], 2) == [str(ID[1]), str(ID[0])]


def test_a_content_rule_reads_shared_filter_fields_as_content_fields() -> None:
    spec = RuleSpec.model_validate({"condition": {"doc_type": "content",
                                                  "filters": {"tags": ["eco"]}},
                                    "consequences": {"boost": {"tags": ["eco"]},
                                                     "filter": {"add": {"tags": ["x"]}}}})
    assert isinstance(spec.condition.filters, ContentFilter)
    assert isinstance(spec.consequences.boost, ContentFilter)
    assert spec.consequences.filter is not None
    assert isinstance(spec.consequences.filter.add, ContentFilter)


def test_boosts_and_buries_of_the_applied_rules_add_up_in_rule_order() -> None:
    rules = [_rule(2, {}, {"boost": {"tags": ["sale"]}, "bury": {"has_stock": False}}),
             _rule(1, {"query": "boots"}, {"boost": {"tags": ["new"]}}),
             _rule(3, {}, {"boost": {"tags": ["sale"]}}),  # the same filter: once
             _rule(4, {"query": "hats"}, {"bury": {"tags": ["old"]}}),  # does not apply
             _rule(5, {}, {"boost": {"tags": ["off"]}}, enabled=False),
             _rule(6, {}, {"boost": {}, "bury": {"tags": []}})]  # match all: move nothing
    got = plan(rules, SearchQuery(q="boots"), NOW)
    assert got.boost == (ProductFilter(tags=["new"]), ProductFilter(tags=["sale"]))
    assert got.bury == (ProductFilter(has_stock=False),)
    assert plan(rules, SearchQuery(q="hats"), NOW).bury == (
        ProductFilter(has_stock=False), ProductFilter(tags=["old"]))


def _holds(tier: tuple[tuple[FilterTest, ...], ...], matched: set[str]) -> bool:
    """Whether a document matching the filters whose tags name `matched` is in `tier`."""
    def test(t: FilterTest) -> bool:
        hit = any(flt.tags[0] in matched for flt in t.filters)
        return hit != t.negate
    return all(any(test(t) for t in group) for group in tier)


@pytest.mark.parametrize(("boost", "bury"), [(["b1"], []), ([], ["u1"]), (["b1"], ["u1"]),
                                             (["b1", "b2"], ["u1", "u2"])])
def test_tiers_split_every_document_into_exactly_one_part(boost: list[str],
                                                          bury: list[str]) -> None:
    parts = tiers([ProductFilter(tags=[t]) for t in boost],
                  [ProductFilter(tags=[t]) for t in bury])
    names = [*boost, *bury]
    for mask in range(1 << len(names)):
        matched = {n for i, n in enumerate(names) if mask >> i & 1}
        inside = [i for i, tier in enumerate(parts) if _holds(tier, matched)]
        up, down = bool(matched & set(boost)), bool(matched & set(bury))
        # boosted first, buried last, both or neither: the rest
        want = 0 if up and not down else len(parts) - 1 if down and not up else \
            (1 if boost else 0)
        assert inside == [want], (matched, inside)
    assert tiers([], []) == [()]


def test_the_covering_pages_hold_the_whole_stretch() -> None:
    for start in range(0, 400):
        for count in range(0, 121, 7):
            size, pages = covering_pages(start, count)
            assert size <= 100 and (len(pages) == 1 or size == min(count, 100))
            assert pages == list(range(pages[0], pages[-1] + 1))
            assert (pages[0] - 1) * size <= start
            assert start + max(count, 1) <= pages[-1] * size
            assert (pages[-1] - 1) * size < start + max(count, 1)  # no page too many
    assert covering_pages(0, 20) == (20, [1])
    assert covering_pages(40, 20) == (20, [3])
    assert covering_pages(38, 18) == (19, [3])  # 38-55 of positions 38-56
    assert covering_pages(190, 120) == (100, [2, 3, 4])
