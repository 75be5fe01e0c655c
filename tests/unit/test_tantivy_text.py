"""User text in Tantivy: exact matches (boosted) or, word by word, a title word one edit away.
Plain words are compiled as a required word-by-word query with the exact one optional (less
work); the hits and scores must be those of OR-ing both, and query syntax keeps the OR (no
I/O: the index lives in memory)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import tantivy

from indexer.model.engines import product_values
from indexer.model.text import FUZZY_MIN_LETTERS, query_words
from indexer.tantivy.query import tenant_scoped, text_query
from indexer.tantivy.schema import build_schema
from search_api.compile_tantivy import EXACT_BOOST, user_text

TENANT = uuid.UUID("01890000-0000-7000-8000-000000000001")
TITLES = ["Leather boots", "Leather belt", "Suede boots", "Canvas sandals", "Wool hat",
          "Leather sandals", "Boots polish", "Lether wallet"]


@pytest.fixture(scope="module")
def index() -> tantivy.Index:
    index = tantivy.Index(build_schema("product", ("EUR",)))
    writer = index.writer(30_000_000, 1)
    for n, title in enumerate(TITLES):
        writer.add_document(tantivy.Document(**product_values({
            "product_id": uuid.UUID(int=n + 1), "tenant_id": TENANT, "title": title,
            "subtitle": None, "handle": f"p{n}", "description": f"{title} for everyone",
            "status": "published", "prices": {}, "currencies": [], "total_stock": 0,
            "has_stock": False, "categories": [], "category_ids": [], "tags": [],
            "tag_ids": [], "meta_title": None, "meta_description": None,
            "created_at": datetime(2024, 1, 1, tzinfo=UTC), "published_at": None,
            "version": 1,
        }, ("EUR",))))
    writer.commit()
    index.reload()
    return index


def _union(index: tantivy.Index, text: str) -> tantivy.Query:
    """The reference: the exact query (boosted) OR every word exactly or one edit away; just
    the exact query when no word is long enough for a typo."""
    if all(len(word) < FUZZY_MIN_LETTERS for word in query_words(text)):
        return text_query(index, "product", text)
    per_word = []
    for word in query_words(text):
        same = text_query(index, "product", word)
        if len(word) >= FUZZY_MIN_LETTERS:
            near = tantivy.Query.fuzzy_term_query(index.schema, "title", word, 1, True, False)
            same = tantivy.Query.boolean_query([(tantivy.Occur.Should, same),
                                                (tantivy.Occur.Should, near)])
        per_word.append((tantivy.Occur.Must, same))
    return tantivy.Query.boolean_query([
        (tantivy.Occur.Should, tantivy.Query.boost_query(text_query(index, "product", text),
                                                         EXACT_BOOST)),
        (tantivy.Occur.Should, tantivy.Query.boolean_query(per_word))])


def _hits(index: tantivy.Index, query: tantivy.Query) -> dict[str, float]:
    searcher = index.searcher()
    scoped = tenant_scoped(index.schema, TENANT, query)
    return {str(searcher.doc(address).get_first("title")): round(score, 4)
            for score, address in searcher.search(scoped, 100).hits}


@pytest.mark.parametrize("text", ["leather boots", "lether boots", "boots", "sandals",
                                  "leather", "suede boots", "wool hat"])
def test_plain_words_match_and_score_like_the_union(index: tantivy.Index, text: str) -> None:
    expected = _hits(index, _union(index, text))
    assert expected, "the case must match something"
    assert _hits(index, user_text(index, "product", text)) == expected


@pytest.mark.parametrize(("text", "titles"), [
    ("boots OR sandals", {"Leather boots", "Suede boots", "Canvas sandals",
                          "Leather sandals", "Boots polish"}),
    # the exact query excludes leather, the word-by-word one wants it: PostgreSQL's union too
    ("boots -leather", {"Suede boots", "Boots polish", "Leather boots"}),
    ('"leather sandals"', {"Leather sandals"}),
])
def test_query_syntax_keeps_what_the_exact_query_matches(
    index: tantivy.Index, text: str, titles: set[str],
) -> None:
    assert set(_hits(index, user_text(index, "product", text))) == titles
    assert _hits(index, user_text(index, "product", text)) == _hits(index, _union(index, text))
