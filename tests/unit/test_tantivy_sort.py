"""Explicit sorts of the Tantivy backend read only the top hits by a fast field plus the ties
at the page boundary; their pages must equal PostgreSQL's `ORDER BY value NULLS LAST, id`
over every hit (no I/O: the index lives in memory)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import tantivy

from indexer.model.engines import product_values
from indexer.tantivy.schema import build_schema
from search_api.backends.tantivy import _page, _sorted_page
from search_api.compile_tantivy import clauses, scoped
from search_api.model import SearchQuery
from search_api.scope import SearchScope

TENANT = uuid.UUID("01890000-0000-7000-8000-000000000001")
CURRENCIES = ("EUR", "USD")
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _rows(count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    rows = []
    for n in range(count):
        prices = {}
        if rng.random() < 0.8:  # a fifth have no EUR price: they sort last
            low = rng.choice((999, 1999, 2999, 4999))  # few values: many ties
            prices["EUR"] = {"min": low, "max": low + 500}
        rows.append({
            "product_id": uuid.UUID(int=rng.getrandbits(128)), "tenant_id": TENANT,
            "title": f"{rng.choice(('Red', 'Blue'))} boot {n}", "subtitle": None,
            "handle": f"boot-{n}", "description": "boot", "status": "published",
            "prices": prices, "currencies": sorted(prices), "total_stock": int(n % 3 != 0),
            "has_stock": n % 3 != 0, "categories": [], "category_ids": [], "tags": [],
            "tag_ids": [], "meta_title": None, "meta_description": None,
            # a few distinct seconds, distinct microseconds: the fast field (seconds) ties
            "created_at": START + timedelta(seconds=rng.randrange(4),
                                            microseconds=rng.randrange(10**6)),
            "published_at": None, "version": 1,
        })
    return rows


@pytest.fixture(scope="module")
def catalog() -> tuple[tantivy.Index, list[dict[str, Any]]]:
    rows = _rows(300)
    index = tantivy.Index(build_schema("product", CURRENCIES))
    writer = index.writer(30_000_000, 1)
    for n, row in enumerate(rows):
        writer.add_document(tantivy.Document(**product_values(row, CURRENCIES)))
        if n % 70 == 69:  # several segments: Tantivy's own tie order is per segment
            writer.commit()
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    return index, rows


def _expected(rows: list[dict[str, Any]], query: SearchQuery,
              in_stock_first: bool = False) -> list[str]:
    """PostgreSQL's order, computed from the rows (`has_stock DESC` first if asked)."""
    name, direction = query.sort.split(":")
    chosen = [r for r in rows if not query.q or query.q.split()[0] in r["title"].lower()]

    def value(row: dict[str, Any]) -> Any:
        if name == "price":
            price = row["prices"].get("EUR")
            return None if price is None else price["min"]
        if name == "title":
            return row["title"].strip(" ").lower()
        return row[name]

    ordered = sorted(chosen, key=lambda r: str(r["product_id"]))
    present = sorted((r for r in ordered if value(r) is not None), key=value,
                     reverse=direction == "desc")
    ordered = present + [r for r in ordered if value(r) is None]
    if in_stock_first:
        ordered.sort(key=lambda r: not r["has_stock"])  # stable: the sort order within
    return [str(r["product_id"]) for r in ordered][query.offset:query.offset + query.per_page]


@pytest.mark.parametrize("sort", ["price:asc", "price:desc", "created_at:asc",
                                  "created_at:desc", "title:asc"])
@pytest.mark.parametrize(("page", "per_page"), [(1, 20), (2, 20), (3, 7), (12, 20), (14, 20),
                                                (1, 100), (4, 100)])
@pytest.mark.parametrize("text", [None, "red"])
def test_sorted_pages_match_the_reference_order(
    catalog: tuple[tantivy.Index, list[dict[str, Any]]], sort: str, page: int, per_page: int,
    text: str | None,
) -> None:
    index, rows = catalog
    query = SearchQuery(q=text, sort=sort, currency="EUR", page=page, per_page=per_page)
    scope = SearchScope(tenant_id=TENANT)
    main = scoped(index.schema, scope, clauses(index, query, scope, CURRENCIES))
    matching = scoped(index.schema, scope,
                      clauses(index, query, scope, CURRENCIES, scored=False))
    total, hits = _sorted_page(index.searcher(), index.schema, main, matching, query,
                               CURRENCIES)
    expected = _expected(rows, query)
    assert [str(doc.get_first("id")) for _, doc, _ in hits] == expected
    assert [document.id for _, _, document in hits] == expected  # mapped once, same hit
    assert total == len(_expected(rows, query.model_copy(update={"page": 1,
                                                                 "per_page": 100_000})))
    if text is None:
        assert all(score == 0.0 for score, _, _ in hits)
    else:
        assert all(score > 0.0 for score, _, _ in hits)  # the text relevance of each hit


@pytest.mark.parametrize("sort", ["price:asc", "created_at:desc", "title:asc"])
@pytest.mark.parametrize(("page", "per_page"), [(1, 20), (10, 20), (11, 20), (12, 20),
                                                (15, 20), (1, 100), (2, 100), (3, 7)])
def test_in_stock_first_pages_cut_across_the_boundary(
    catalog: tuple[tantivy.Index, list[dict[str, Any]]], sort: str, page: int, per_page: int,
) -> None:
    """200 of the 300 are in stock: page 10 of 20 ends at the boundary, 11 starts after
    it, 2 of 100 crosses it."""
    index, rows = catalog
    query = SearchQuery(sort=sort, currency="EUR", page=page, per_page=per_page)
    scope = SearchScope(tenant_id=TENANT, in_stock_first=True)
    main = scoped(index.schema, scope, clauses(index, query, scope, CURRENCIES))
    matching = scoped(index.schema, scope,
                      clauses(index, query, scope, CURRENCIES, scored=False))
    total, hits = _page(index.searcher(), index.schema, main, matching, query, scope,
                        CURRENCIES)
    assert [document.id for _, _, document in hits] == _expected(rows, query, True)
    assert total == len(rows)


def _tiled(index: tantivy.Index, scope: SearchScope, text: str,
           per_page: int) -> tuple[int, list[tuple[float, str]]]:
    """(total, (score, id) of every hit) read page by page."""
    out: list[tuple[float, str]] = []
    total, page = 1, 1
    while len(out) < total:
        query = SearchQuery(q=text, page=page, per_page=per_page)
        main = scoped(index.schema, scope, clauses(index, query, scope, CURRENCIES))
        matching = scoped(index.schema, scope,
                          clauses(index, query, scope, CURRENCIES, scored=False))
        total, hits = _page(index.searcher(), index.schema, main, matching, query, scope,
                            CURRENCIES)
        assert hits, "a page short of the total"
        out += [(score, document.id) for score, _, document in hits]
        page += 1
    return total, out


@pytest.mark.parametrize("per_page", [7, 20, 100])
def test_in_stock_first_relevance_pages_tile_the_same_order(
    catalog: tuple[tantivy.Index, list[dict[str, Any]]], per_page: int,
) -> None:
    """In relevance order every in-stock hit comes before every other, the scores are the
    query's own (the stock clause adds nothing), and pages of any size tile one order."""
    index, rows = catalog
    stock = {str(r["product_id"]): r["has_stock"] for r in rows}
    total, hits = _tiled(index, SearchScope(tenant_id=TENANT, in_stock_first=True), "red",
                         per_page)
    assert total == len(hits) == sum(1 for r in rows if r["title"].startswith("Red"))
    flags = [stock[doc_id] for _, doc_id in hits]
    assert flags == sorted(flags, reverse=True) and True in flags and False in flags
    _, plain = _tiled(index, SearchScope(tenant_id=TENANT), "red", 100)
    assert sorted(plain) == sorted(hits)  # the same hits with the same scores
