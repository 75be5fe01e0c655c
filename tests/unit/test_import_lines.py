"""The bulk import's pure parts: a line's schema and checks (field paths), splitting a byte
stream into numbered lines with a hash of exactly what was handed out, and the fan-out of a
chunk's `ReindexRequested`."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator

import pytest

from core_write import events as ev
from core_write.errors import ImportLineRefused, ImportTooLarge
from core_write.import_lines import (
    NodeLine,
    ProductLine,
    RawLine,
    parse_line,
    split_lines,
)
from indexer.fanout import Docs, targets_of


def line(**fields: object) -> bytes:
    data: dict[str, object] = {"title": "Mug", "handle": "mug"}
    data.update(fields)
    return json.dumps(data).encode()


def refused(raw: bytes) -> tuple[str, str]:
    with pytest.raises(ImportLineRefused) as caught:
        parse_line(raw)
    return caught.value.field, caught.value.reason


def test_a_product_line_with_its_parts() -> None:
    spec = parse_line(line(
        options=[{"title": "Size", "values": ["S", "M"]}],
        variants=[{"sku": "m-s", "options": {"Size": "S"}, "prices": {"EUR": 100},
                   "stock": {"Shop": 2}}],
        categories=["mugs", {"handle": "gifts", "name": "Gifts"}], tags=["New in"]))
    assert isinstance(spec, ProductLine)
    variant = spec.variants[0]
    assert (variant.prices[0].currency_code, variant.prices[0].amount) == ("EUR", 100)
    assert variant.stock == {"Shop": 2}
    assert [c.handle for c in spec.categories] == ["mugs", "gifts"]
    assert spec.tags[0].name == "New in" and spec.status == "draft"


def test_a_node_line() -> None:
    spec = parse_line(json.dumps({"type": "node", "kind": "page", "title": "About",
                                  "slug": "about", "body": {"body": "hi"}}).encode())
    assert isinstance(spec, NodeLine) and spec.body is not None
    assert refused(json.dumps({"type": "node", "kind": "comment", "slug": "c"}).encode())[0] \
        == "kind"
    assert refused(json.dumps({"type": "node", "kind": "page", "title": "x"}).encode())[0] \
        == "slug"


@pytest.mark.parametrize(("raw", "field", "reason"), [
    (b"{", "", "not valid JSON"),
    (b"[]", "", "must be a JSON object"),
    (line(type="order"), "type", "must be one of product, node"),
    (line(handle="Not A Handle"), "handle", "must be lowercase"),
    (line(title="x\u0000y"), "title", "NUL"),
    (line(subtitle="\ud800"), "subtitle", "surrogate"),
    (line(metadata={"a": ["\udfff"]}), "metadata.a.0", "surrogate"),
    (line(variants=[{"title": "\u0000"}]), "variants.0.title", "NUL"),
    (b"[" * 100_000, "", "not valid JSON"),
    (line(variants=[{"prices": {"EURO": 1}}]), "variants.0.prices.0.currency_code", ""),
    (line(variants=[{"prices": [{"currency_code": "EUR", "amount": -1}]}]),
     "variants.0.prices.0.amount", ""),
    (line(variants=[{"stock": -1}]), "variants.0.stock.Default", ""),
    (line(variants=[{"stock": {"Shop": 2**31}}]), "variants.0.stock.Shop", ""),
    (line(variants=[{"options": {"Size": "S"}}]), "variants.0.options.Size",
     "no option of that title"),
    (line(options=[{"title": "Size", "values": ["S"]}],
          variants=[{"options": {"Size": "L"}}]),
     "variants.0.options.Size", "'L' is not a value of the option"),
    (line(variants=[{"sku": "a"}, {"sku": "a"}]), "variants.1.sku", "given to two variants"),
    (line(variants=[{"option_value_ids": [str(uuid.uuid4())]}]),
     "variants.0.option_value_ids", "names option values in `options`"),
    (line(tags=["!!!"]), "tags.0.slug", "cannot be derived"),
    (line(colour="red"), "colour", "Extra inputs"),
])
def test_a_refused_line_names_its_field(raw: bytes, field: str, reason: str) -> None:
    got_field, got_reason = refused(raw)
    assert got_field == field
    assert reason in got_reason


async def _stream(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _lines(*parts: bytes, max_line: int = 10, max_bytes: int | None = None
                 ) -> tuple[list[RawLine], str]:
    hasher = hashlib.sha256()
    got = [raw async for raw in split_lines(_stream(*parts), hasher, max_line=max_line,
                                            max_bytes=max_bytes)]
    return got, hasher.hexdigest()


async def test_lines_across_chunks_with_offsets_and_an_overlong_one() -> None:
    data = b"ab\n\nc" + b"d\n" + b"x" * 25 + b"\nlast"
    got, digest = await _lines(data[:3], data[3:9], data[9:20], data[20:])
    assert [(r.number, r.data, r.end) for r in got] == [
        (1, b"ab", 3), (2, b"", 4), (3, b"cd", 7), (4, None, 33), (5, b"last", 37)]
    assert digest == hashlib.sha256(data).hexdigest()


async def test_the_hash_covers_only_the_lines_handed_out() -> None:
    hasher = hashlib.sha256()
    lines = split_lines(_stream(b"one\ntwo\nthree\n"), hasher)
    first = await anext(lines)
    assert first.end == 4 and hasher.hexdigest() == hashlib.sha256(b"one\n").hexdigest()
    await lines.aclose()


async def test_too_many_bytes() -> None:
    with pytest.raises(ImportTooLarge):
        await _lines(b"a\n" * 10, max_bytes=15)


def test_a_chunk_event_names_its_documents() -> None:
    ids = [uuid.uuid4() for _ in range(3)]
    event = ev.ReindexRequested(request_id=uuid.uuid4(), target_type="products",
                                target_ids=ids)
    assert targets_of(event) == [Docs("product", tuple(ids))]
    with pytest.raises(ValueError):
        ev.ReindexRequested(request_id=uuid.uuid4(), target_type="content",
                            target_ids=[uuid.uuid4() for _ in range(501)])
