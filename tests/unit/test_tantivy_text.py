"""User text in Tantivy by the shared matching and ranking rules (indexer/model/text.py, README
"Matching and ranking"): every word matched exactly, by stem, as a prefix (the last word) or
with typos on every searchable field, ranked by typos, field tier, exactness, then BM25; query
syntax keeps what the parser matches (no I/O: the index lives in memory)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import tantivy

from indexer.model.engines import match_term, match_values, match_words, product_values
from indexer.model.text import stem_words, typo_cost
from indexer.tantivy.query import tenant_scoped
from indexer.tantivy.schema import build_schema
from search_api.backends.highlight import QueryWords
from search_api.compile_tantivy import user_text

TENANT = uuid.UUID("01890000-0000-7000-8000-000000000001")
PRODUCTS: list[dict[str, Any]] = [
    {"title": "Leather boots", "description": "Sturdy boots for winter"},
    {"title": "Leather belt"},
    {"title": "Suede boots", "tags": ["bestseller"]},
    {"title": "Canvas sandals", "description": "Sandals with leather straps"},
    {"title": "Wool hat", "categories": [{"name": "Accessories"}]},
    {"title": "Feather pillow"},
    {"title": "Boot polish", "subtitle": "Keeps leather supple"},
    {"title": "Lether wallet"},
    {"title": "Electronic watch"},
]


def _row(n: int, spec: dict[str, Any], language: str) -> dict[str, Any]:
    return {
        "product_id": uuid.UUID(int=n + 1), "tenant_id": TENANT, "title": spec["title"],
        "subtitle": spec.get("subtitle"), "handle": f"p{n}",
        "description": spec.get("description"), "status": "published", "prices": {},
        "currencies": [], "total_stock": 0, "has_stock": False,
        "categories": spec.get("categories", []), "category_ids": [],
        "tags": spec.get("tags", []), "tag_ids": [], "meta_title": None,
        "meta_description": None, "created_at": datetime(2024, 1, 1, tzinfo=UTC),
        "published_at": None, "version": 1, "language": language,
    }


def _index(language: str) -> tantivy.Index:
    index = tantivy.Index(build_schema("product", ("EUR",)))
    writer = index.writer(30_000_000, 1)
    for n, spec in enumerate(PRODUCTS):
        writer.add_document(tantivy.Document(**product_values(_row(n, spec, language),
                                                              ("EUR",))))
    writer.commit()
    index.reload()
    return index


@pytest.fixture(scope="module")
def index() -> tantivy.Index:
    return _index("simple")


@pytest.fixture(scope="module")
def english() -> tantivy.Index:
    return _index("english")


def _titles(index: tantivy.Index, text: str, language: str = "simple") -> list[str]:
    searcher = index.searcher()
    scoped = tenant_scoped(index.schema, TENANT, user_text(index, "product", text, language))
    return [str(searcher.doc(address).get_first("title"))
            for _, address in searcher.search(scoped, 100).hits]


def test_the_last_word_matches_as_a_prefix_whole_words_first(index: tantivy.Index) -> None:
    assert set(_titles(index, "leat")) == {"Leather boots", "Leather belt", "Canvas sandals",
                                           "Boot polish"}
    assert _titles(index, "boot")[0] == "Boot polish"  # the whole word above the prefix
    assert set(_titles(index, "boot")) == {"Boot polish", "Leather boots", "Suede boots"}
    # both words in the title first, then the subtitle's leather with the title's boot
    assert set(_titles(index, "leather b")[:2]) == {"Leather belt", "Leather boots"}
    assert _titles(index, "leather b")[2:] == ["Boot polish"]
    assert _titles(index, "boot ") == ["Boot polish"]  # a space ends the word: no prefix
    assert _titles(index, "l") and _titles(index, "leather bo") == ["Leather boots", "Boot polish"]
    assert _titles(index, "lea bo") == []  # only the last word is a prefix


def test_typos_on_every_field_by_word_length(index: tantivy.Index) -> None:
    assert "Suede boots" in _titles(index, "bestseler")  # a tag, one typo
    assert _titles(index, "acessories") == ["Wool hat"]  # a category name
    assert _titles(index, "sturdi") == ["Leather boots"]  # the description
    assert _titles(index, "elcetronik") == ["Electronic watch"]  # two typos from 9 letters
    assert _titles(index, "elcetronix") == ["Electronic watch"]
    assert _titles(index, "elcetrnix") == []  # three
    assert _titles(index, "elctronk") == []  # two typos on 8 letters
    assert _titles(index, "wol") == []  # no typo under 5 letters, no prefix of a word
    assert _titles(index, "wol ") == []


def test_a_first_letter_typo_counts_two(index: tantivy.Index) -> None:
    leather = _titles(index, "leather")
    assert "Feather pillow" not in leather and "Lether wallet" in leather
    assert _titles(index, "feather") == ["Feather pillow"]
    assert _titles(index, "eather") == []
    assert typo_cost("leather", "feather", 2) == 2 and typo_cost("leather", "eleather", 1) is None
    assert typo_cost("leather", "laether", 1) == 1 and typo_cost("electronic", "lectronic", 2) == 2


def test_ranking_typos_then_field_then_exactness(index: tantivy.Index) -> None:
    # exact in a title, exact in a subtitle, exact in a description, one typo in a title
    assert set(_titles(index, "leather")[:2]) == {"Leather boots", "Leather belt"}
    assert _titles(index, "leather")[2:] == ["Boot polish", "Canvas sandals", "Lether wallet"]
    assert _titles(index, "lether")[0] == "Lether wallet"  # exact beats the typo matches


def test_stems_in_the_tenant_language(english: tantivy.Index, index: tantivy.Index) -> None:
    assert stem_words(["boots", "sandals"], "english") == ["boot", "sandal"]
    assert stem_words(["boots"], "simple") == ["boots"]
    assert set(_titles(english, "boot ", "english")) == {"Boot polish", "Leather boots",
                                                        "Suede boots"}
    assert _titles(english, "boot ", "english")[0] == "Boot polish"  # exact above the stem
    assert _titles(english, "sandal ", "english") == ["Canvas sandals"]
    assert _titles(index, "boot ") == ["Boot polish"]  # simple: no stems


def test_highlights_mark_what_matched() -> None:
    words = QueryWords("leather boo", "english")
    assert words.mark("Leather boots, leathers") == \
        "<mark>Leather</mark> <mark>boo</mark>ts, <mark>leathers</mark>"
    assert QueryWords("leather", "simple").mark("Feather & Leather") == \
        "Feather &amp; <mark>Leather</mark>"


@pytest.mark.parametrize(("text", "titles"), [
    ("boots OR sandals", {"Leather boots", "Suede boots", "Canvas sandals"}),
    ('"leather boots"', {"Leather boots"}),
])
def test_query_syntax_keeps_what_the_parser_matches(
    index: tantivy.Index, text: str, titles: set[str],
) -> None:
    assert titles <= set(_titles(index, text))


@pytest.mark.parametrize("text", ["leat", "leather", "lether ", "boot", "boot ", "leather b",
                                  "elcetronik", "bestseler", "sandals with l", "e"])
@pytest.mark.parametrize("language", ["simple", "english"])
def test_the_unscored_query_matches_the_same_documents(
    index: tantivy.Index, english: tantivy.Index, text: str, language: str,
) -> None:
    target = english if language == "english" else index
    searcher = target.searcher()

    def ids(scored: bool) -> set[str]:
        query = tenant_scoped(target.schema, TENANT,
                              user_text(target, "product", text, language, scored=scored))
        return {str(searcher.doc(a).get_first("id")) for _, a in searcher.search(query, 100).hits}

    assert ids(scored=True) == ids(scored=False)


@pytest.mark.parametrize("text", ["Leather boots", "Hello_World, ÉTÉ 12x straße", "T0-P0000006-0",
                                  "  spaces\tand\nlines ", "l'été à Zürich: 3½ x²", ""])
def test_the_match_fields_hold_the_query_terms(text: str) -> None:
    """What Tantivy's tokenizer makes of a match field is what a query word becomes."""
    analyzer = (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
                .filter(tantivy.Filter.remove_long(40)).filter(tantivy.Filter.lowercase())
                .build())
    values = match_values([[text], [], []], "simple")
    assert analyzer.analyze(values["tier1"]) == [match_term(w) for w in match_words(text)]
