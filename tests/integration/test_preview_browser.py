"""The preview page at `/`, driven in headless Chromium (Debian's package, through
Playwright) against a real API on the small demo catalog: what the page shows is what the API
answered, for a partial word, a typo, a ticked facet, a price sort and the next page. A
screenshot per backend is written to test-artifacts/preview-<backend>.png."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from rustok_search.demo_data import plan_demo
from tests.demo_fixtures import DEMO, DemoApi, demo_api_fixture  # noqa: F401 - the fixture

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"no Chromium at {CHROMIUM} (.ci/run installs "
                                       "Debian's chromium package)")


@pytest.fixture
async def page(demo_api: DemoApi) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            view = await browser.new_page(viewport={"width": 1200, "height": 900})
            failed: list[str] = []
            view.on("requestfailed", lambda request: failed.append(request.url))
            yield view
            assert not [url for url in failed if not url.startswith(demo_api.url)], \
                "the page loaded something from elsewhere"
        finally:
            await browser.close()


def _words() -> tuple[str, str]:
    """A partial word and a typo that both find demo-0 products: from the most common title
    words of the catalog the fixture loaded."""
    titles = [p.title.lower() for p in plan_demo(DEMO.products, DEMO.nodes, DEMO.tenants,
                                                 DEMO.seed)[0].products
              if p.status == "published"]
    words = sorted({w for t in titles for w in t.split() if len(w) >= 6},
                   key=lambda w: (-sum(w in t.split() for t in titles), w))
    partial, typo = words[0][:4], words[1][:2] + words[1][3:]  # one letter left out
    return partial, typo


async def _shown(page: Any, demo_api: DemoApi, action: Callable[[], Awaitable[Any]],
                 expect: dict[str, str]) -> dict[str, Any]:
    """Run `action`, catch the search it makes (its query has `expect`), ask the API the same
    question and wait until the page shows that answer: ids in order, total, page."""
    def wanted(response: Any) -> bool:
        parts = urlsplit(response.url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        return parts.path.startswith("/v1/search/") and all(
            query.get(k) == v for k, v in expect.items())

    async with page.expect_response(wanted, timeout=TIMEOUT_MS) as caught:
        await action()
    response = await caught.value
    parts = urlsplit(response.url)
    answer = await demo_api.get(f"{parts.path}?{parts.query}")
    ids = ",".join(hit["id"] for hit in answer["hits"])
    await page.wait_for_function(
        "([ids, total]) => [...document.querySelectorAll('li.hit')].map(e => e.dataset.id)"
        ".join() === ids && document.getElementById('total')?.textContent === total",
        arg=[ids, str(answer["total"])], timeout=TIMEOUT_MS)
    took = await page.text_content("#took")
    assert took is not None and float(took) >= 0
    return answer


async def _facet_counts(page: Any, facet: str) -> dict[str, str]:
    rows = await page.query_selector_all(f".facet[data-facet={facet}] label")
    counts = {}
    for row in rows:
        value = await (await row.query_selector("input")).get_attribute("value")
        counts[value] = await (await row.query_selector(".count")).text_content()
    return counts


@pytest.mark.parametrize("demo_api", ["tantivy", "postgres"], indirect=True)
async def test_preview_page_shows_what_the_api_answers(page: Any, demo_api: DemoApi) -> None:
    partial, typo = _words()

    # the key arrives in the fragment (as `./run demo` prints it), never in a request
    first = await _shown(page, demo_api, lambda: page.goto(f"{demo_api.url}/#key={demo_api.key}"),
                         {"page": "1"})
    assert first["total"] > 10 and "#key" not in page.url
    assert await page.evaluate("localStorage.getItem('rustok-key')") == demo_api.key

    second = await _shown(page, demo_api, lambda: page.click("#next"), {"page": "2"})
    assert not {h["id"] for h in second["hits"]} & {h["id"] for h in first["hits"]}
    assert await page.text_content("#page") == f"page 2 of {-(-first['total'] // 10)}"

    by_price = await _shown(page, demo_api, lambda: page.select_option("#sort", "price:asc"),
                            {"sort": "price:asc", "page": "1"})
    prices = [int(p) for p in await page.eval_on_selector_all(
        "li.hit .price", "spans => spans.map(s => s.dataset.min).filter(Boolean)")]
    assert prices == sorted(prices) and len(prices) == len(by_price["hits"])
    assert prices == [h["document"]["prices"]["EUR"]["min"] for h in by_price["hits"]]

    await page.select_option("#sort", "relevance")
    # search matches whole words (with typos); the titles starting with a partial word come
    # from /v1/suggest beside the hits
    await _shown(page, demo_api, lambda: page.fill("#q", partial), {"q": partial})
    titles = [s["title"] for s in (await demo_api.get(
        f"/v1/suggest?q={partial}&type=products&limit=5"))["suggestions"]]
    assert titles, partial
    await page.wait_for_function(
        "titles => [...document.querySelectorAll('#suggestions button')]"
        ".map(b => b.dataset.title).join('|') === titles", arg="|".join(titles),
        timeout=TIMEOUT_MS)
    found = await _shown(page, demo_api, lambda: page.click("#suggestions button"),
                         {"q": titles[0]})
    assert found["total"] > 0 and found["hits"][0]["document"]["title"] == titles[0]
    assert await page.locator("li.hit mark").count() > 0  # highlights rendered as <mark>

    found = await _shown(page, demo_api, lambda: page.fill("#q", typo), {"q": typo})
    assert found["total"] > 0, typo

    await _shown(page, demo_api, lambda: page.fill("#q", ""), {"page": "1"})
    before = await _facet_counts(page, "categories")
    tag = await page.get_attribute(".facet[data-facet=tags] input", "value")
    ticked = await _shown(page, demo_api,
                          lambda: page.check(f".facet[data-facet=tags] input[value='{tag}']"),
                          {"filter.tags": tag})
    after = await _facet_counts(page, "categories")
    assert after != before and 0 < ticked["total"] < first["total"]
    assert after == {k: str(v) for k, v in ticked["facets"]["categories"].items()}
    shown = [await label.text_content() for label in await page.query_selector_all(
        ".facet[data-facet=categories] .value")]
    names = ticked["facet_labels"]["categories"]
    assert shown and sorted(shown) == sorted(names[k] for k in after)  # names, not ids
    assert await page.is_checked(f".facet[data-facet=tags] input[value='{tag}']")

    async def untick_and_type() -> None:  # both within the page's 150 ms debounce
        await page.uncheck(f".facet[data-facet=tags] input[value='{tag}']")
        await page.fill("#q", typo)

    await _shown(page, demo_api, untick_and_type, {"q": typo})
    ARTIFACTS.mkdir(exist_ok=True)
    backend = (await demo_api.get("/v1/search/products?per_page=1"))["backend"]
    await page.screenshot(path=str(ARTIFACTS / f"preview-{backend}.png"), full_page=True)
