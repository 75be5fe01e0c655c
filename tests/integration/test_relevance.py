"""The relevance set (issue 13, point 6) on every backend: the queries of
`bench.relevance_set` on a scratch demo catalog, scored as `python -m bench relevance`
scores them; the suite fails when a backend's recall@10 or MRR drops below its bar, overall
or in a category of queries.

The bars are what the backends reached when the set was written, less a small margin
(measured with `./run bench relevance`, 240 products, see README "Relevance"): raise them as
the features behind the failing categories land. Below a bar of 0 a category is known to
fail today, and why is written next to it."""

from __future__ import annotations

import os
import uuid

import pytest

from bench.relevance import DEFAULT_PRODUCTS, Scores, evaluate, failing, table
from tests.conftest import BASE_DSN, REDIS_URL, RUN_ID

MEILISEARCH_URL = os.environ.get("MEILISEARCH_URL", "")

MARGIN = 0.03
"""How far below the measured value a bar sits (the catalog and the queries are
deterministic: only a change of the engines moves the numbers)."""
MEASURED: dict[str, dict[str, tuple[float, float]]] = {
    # backend -> category ("all": every query) -> (recall@10, MRR) measured
    "postgres": {
        # every category once the issue-13 text matching landed (prefix, typos in every
        # field, stems, identifiers; migrations/0019_search_words.sql)
        "all": (1.0, 1.0),
        "single word": (1.0, 1.0), "typo title": (1.0, 1.0), "plural": (1.0, 1.0),
        "category name": (1.0, 1.0), "no result": (1.0, 1.0), "multi-word": (1.0, 1.0),
        "prefix": (1.0, 1.0), "typo description": (1.0, 1.0), "typo tags": (1.0, 1.0),
        "typo category": (1.0, 1.0), "typo option": (1.0, 1.0),
        "typo subtitle": (1.0, 1.0), "sku": (1.0, 1.0),
    },
    "tantivy": {
        # issue 13's matching (prefixes, typos on every field, stems, tiers)
        "all": (1.0, 1.0),
        "single word": (1.0, 1.0), "typo title": (1.0, 1.0), "category name": (1.0, 1.0),
        "no result": (1.0, 1.0), "multi-word": (1.0, 1.0), "plural": (1.0, 1.0),
        "prefix": (1.0, 1.0), "typo description": (1.0, 1.0), "typo tags": (1.0, 1.0),
        "typo category": (1.0, 1.0), "typo option": (1.0, 1.0), "sku": (1.0, 1.0),
        "typo subtitle": (1.0, 1.0),
    },
}
MEASURED["meilisearch"] = {
    # v1.50.0 built from source: every kind but plurals (Meilisearch does not stem; the
    # plural queries it finds are the ones a prefix or a typo reaches)
    "all": (0.9775, 0.9775), "plural": (0.8, 0.8),
    **{kind: (1.0, 1.0) for kind in (
        "single word", "typo title", "category name", "no result", "multi-word", "prefix",
        "typo description", "typo tags", "typo category", "typo option", "typo subtitle",
        "sku")},
}


@pytest.fixture(scope="module")
async def runs() -> dict[str, Scores]:
    name = f"rustok_test_{RUN_ID}_rel_{uuid.uuid4().hex[:6]}"
    scored = await evaluate(BASE_DSN, REDIS_URL, name, DEFAULT_PRODUCTS, MEILISEARCH_URL,
                            prefix=f"rustok_test:{RUN_ID}:{name}")
    print(table(scored), failing(scored, 200), sep="\n\n")
    return {run.backend: run for run in scored}


def test_the_set_runs_on_every_backend(runs: dict[str, Scores]) -> None:
    assert set(runs) == {"postgres", "tantivy", *(["meilisearch"] if MEILISEARCH_URL else [])}
    for run in runs.values():
        assert len(run.outcomes) >= 60
        assert len({o.expected.query.category for o in run.outcomes}) >= 10


@pytest.mark.parametrize("backend", ["postgres", "tantivy", "meilisearch"])
def test_no_backend_drops_below_its_bar(runs: dict[str, Scores], backend: str) -> None:
    if backend not in runs:
        pytest.skip("MEILISEARCH_URL is not set")
    run = runs[backend]
    below = []
    for category, (recall, mrr) in MEASURED[backend].items():
        scope = None if category == "all" else category
        got = (run.recall(scope), run.mrr(scope))
        if got[0] < recall - MARGIN or got[1] < mrr - MARGIN:
            below.append(f"{category}: recall@10 {got[0]:.3f} (bar {recall - MARGIN:.3f}), "
                         f"MRR {got[1]:.3f} (bar {mrr - MARGIN:.3f})")
    assert not below, f"{backend} dropped below its bar:\n" + "\n".join(below) + \
        "\n\n" + failing([run], 200)
