"""README's requests and the ones `./run demo` prints find documents in the demo data: each
`curl` of README's shell blocks, and each request README shows the demo printing, runs (with
a demo-0 key) against a small demo catalog on the Tantivy and the Postgres backend, and must
return hits."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from rustok_search.demo import EXAMPLES, welcome
from tests.demo_fixtures import DemoApi, demo_api_fixture  # noqa: F401 - the fixture

README = Path(__file__).resolve().parents[2] / "README.md"
HOST = "http://127.0.0.1:8080"


def readme_requests() -> list[tuple[str, dict[str, Any] | None]]:
    """(path with query, JSON body or None) of every `curl ... $KEY` in README."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text(), re.S):
        words = shlex.split(block, comments=True)  # quoted JSON may span lines
        starts = [i for i, word in enumerate(words) if word == "curl"] + [len(words)]
        for start, end in zip(starts, starts[1:], strict=False):
            args = words[start:end]
            if not any("$KEY" in arg for arg in args):
                continue
            url = next(arg for arg in args if arg.startswith(HOST))
            body = json.loads(args[args.index("-d") + 1]) if "-d" in args else None
            found.append((url.removeprefix(HOST), body))
    return found


def readme_printed_requests() -> list[str]:
    """Paths of the requests README shows `./run demo` printing (a key `rsk_...`, outside
    the shell blocks)."""
    return [url.removeprefix(HOST) for url in re.findall(
        r"curl -H 'Authorization: Bearer rsk_[^']*' '(http://127\.0\.0\.1:8080/[^']*)'",
        README.read_text())]


def hits(answer: dict[str, Any]) -> int:
    return int(answer["total"]) if "total" in answer else len(answer["suggestions"])


@pytest.mark.parametrize("demo_api", ["tantivy", "postgres"], indirect=True)
async def test_readme_and_demo_examples_find_documents(demo_api: DemoApi) -> None:
    examples = readme_requests()
    assert len(examples) >= 3, "README lost its examples"
    printed = readme_printed_requests()
    assert printed and set(printed) <= set(EXAMPLES), "README shows what the demo prints"
    for path, body in examples:
        if body is None:
            answer = await demo_api.get(path)
        else:
            resp = await demo_api.client.post(
                path, json=body, headers={"Authorization": f"Bearer {demo_api.key}"})
            answer = await resp.json()
            assert resp.status == 200, (path, body, answer)
        assert hits(answer) > 0, (path, body)
        assert answer.get("stale") is not True
    for path in EXAMPLES:
        assert hits(await demo_api.get(path)) > 0, path
    text = welcome("http://127.0.0.1:8080", {"demo-0": "rsk_a", "demo-1": "rsk_b"}, 3.2, None)
    assert "http://127.0.0.1:8080/#key=rsk_a" in text and "demo-1   rsk_b" in text
    assert all(path in text for path in EXAMPLES) and "./run demo --reset" in text
