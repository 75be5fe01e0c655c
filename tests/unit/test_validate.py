"""The shared input checks of the write side (core_write.validate), without a database: bad
characters, nesting, sizes, currencies, slugs, and that every service and text field is
covered."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

import core_write.services
from core_write.errors import ValidationFailed
from core_write.services.catalog import PriceSet, ProductCreate
from core_write.services.content import BodyInput
from core_write.validate import (
    BODY_MAX_BYTES,
    DESCRIPTION_MAX_BYTES,
    INPUT_MAX_DEPTH,
    JSON_MAX_BYTES,
    JSON_MAX_DEPTH,
    URL_MAX,
    check_input,
    check_json,
    currency_codes,
    parse_input,
    slugify,
)

SERVICE_MODULES = [importlib.import_module(f"core_write.services.{info.name}")
                   for info in pkgutil.iter_modules(core_write.services.__path__)]
HELPERS = {"lock_levels", "apply_levels", "move_in_tree"}
"""Coroutines other services call inside their unit, with already checked arguments."""


def nest(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(("value", "field"), [
    ({"title": "a\x00b"}, "title"),
    ({"title": "ok", "metadata": {"k": ["x", "bad\ud800"]}}, "metadata.k.1"),
    ({"metadata": {"bad\x00key": 1}}, "metadata.<key>"),
    ({"password": SecretStr("pass\x00word")}, "password"),
    ({"items": [{"sku": "\udfff"}]}, "items.0.sku"),
])
def test_bad_characters_are_refused_naming_the_path(value: Any, field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        check_input(value, "")
    assert info.value.field == field


def test_a_model_argument_is_walked_too() -> None:
    spec = ProductCreate.model_construct(title="x\x00", handle="h")
    with pytest.raises(ValidationFailed) as info:
        check_input(spec, "data")
    assert info.value.field == "data.title"


def test_nesting_is_bounded_without_recursion() -> None:
    check_input({"metadata": nest(INPUT_MAX_DEPTH - 2)}, "")
    with pytest.raises(ValidationFailed, match="nested deeper"):
        check_input({"metadata": nest(100_000)}, "")  # would overflow a recursive walk


def test_json_values_are_bounded_in_depth_size_and_types() -> None:
    check_json(nest(JSON_MAX_DEPTH))
    for bad, message in [
        (nest(JSON_MAX_DEPTH + 1), "nested deeper"),
        ({"x": float("nan")}, "finite"),
        ({"x": float("inf")}, "finite"),
        ({"x": {1: "a"}}, "keys must be strings"),
        ({"x": {1, 2}}, "not a JSON value"),
        ({"x": "é" * (JSON_MAX_BYTES // 2)}, "bytes as JSON"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_json(bad)


def test_long_texts_are_limited_in_utf8_bytes() -> None:
    ok = "a" * DESCRIPTION_MAX_BYTES
    assert parse_input(ProductCreate, title="t", handle="h", description=ok).description == ok
    with pytest.raises(ValidationFailed) as info:
        parse_input(ProductCreate, title="t", handle="h",
                    description="é" * (DESCRIPTION_MAX_BYTES // 2 + 1))
    assert info.value.field == "description"
    parse_input(BodyInput, body="a" * BODY_MAX_BYTES)
    with pytest.raises(ValidationFailed) as info:
        parse_input(BodyInput, body="a" * (BODY_MAX_BYTES + 1))
    assert info.value.field == "body"


def test_currencies_are_iso_4217() -> None:
    assert {"EUR", "USD", "JPY", "CHF"} <= currency_codes()
    assert "ZZZ" not in currency_codes() and "ABC" not in currency_codes()
    assert parse_input(PriceSet, currency_code="JPY", amount=1).currency_code == "JPY"
    for code in ("ZZZ", "eur", "EURO", ""):
        with pytest.raises(ValidationFailed) as info:
            parse_input(PriceSet, currency_code=code, amount=1)
        assert info.value.field == "currency_code"


def test_price_lists_are_refused_until_they_exist() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_input(PriceSet, currency_code="EUR", amount=1,
                    price_list_id="01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert info.value.field == "price_list_id"


def test_one_slug_rule() -> None:
    assert slugify("Rust & Go!") == "rust-go"
    assert slugify("  Alder & Co  ") == "alder-co"
    assert slugify("x" * 300, 100) == "x" * 100
    assert slugify("¡¿?") == ""


def test_input_that_is_not_an_object_is_a_validation_error() -> None:
    for data in (["title"], "title", 3):
        with pytest.raises(ValidationFailed):
            parse_input(ProductCreate, data)  # type: ignore[arg-type]


def test_every_entity_service_runs_the_shared_checks() -> None:
    unchecked = [
        f"{module.__name__}.{name}" for module in SERVICE_MODULES
        for name, fn in vars(module).items()
        if inspect.iscoroutinefunction(fn) and fn.__module__ == module.__name__
        and not name.startswith("_") and name not in HELPERS
        and next(iter(inspect.signature(fn).parameters)) == "unit"
        and not hasattr(fn, "__wrapped__")
    ]
    assert unchecked == []


SELF_CHECKED = {("UserCreate", "email"), ("UserUpdate", "email"), ("TenantCreate", "modules")}
"""Text fields whose own validator bounds them (an email: 255 characters; modules: the
known module names)."""


def test_every_text_field_of_every_input_model_has_a_size_limit() -> None:
    models = {cls for module in SERVICE_MODULES for cls in vars(module).values()
              if isinstance(cls, type) and issubclass(cls, BaseModel) and cls is not BaseModel}
    unbounded = []
    for model in models:
        schema = model.model_json_schema()
        defs = schema.get("$defs", {})
        for name, prop in schema["properties"].items():
            for option in prop.get("anyOf", [prop]):
                option = defs.get(option.get("$ref", "").rsplit("/", 1)[-1], option)
                if option.get("type") == "array":
                    option = option.get("items", {})
                text = option.get("type") == "string" \
                    and option.get("format") not in ("password", "uuid")
                if text and "maxLength" not in option and "enum" not in option \
                        and "const" not in option and (model.__name__, name) not in SELF_CHECKED \
                        and not _byte_limited(model, name):
                    unbounded.append(f"{model.__name__}.{name}")
    assert sorted(unbounded) == []


def _byte_limited(model: type[BaseModel], name: str) -> bool:
    """Description and Body carry a byte limit (an AfterValidator from max_bytes)."""
    info = model.model_fields[name]
    annotations = [info.annotation, *info.metadata]
    return any("max_bytes" in repr(item) for item in annotations)


@pytest.mark.parametrize("url", ["https://img.example.com/a.jpg", "http://cdn.test:8080/x?y=1",
                                 "  https://img.example.com/padded.png "])
def test_a_thumbnail_is_an_absolute_http_url(url: str) -> None:
    product = parse_input(ProductCreate, title="t", handle="h", thumbnail=url)
    assert product.thumbnail == url.strip()


@pytest.mark.parametrize("url", ["ftp://img.example.com/a.jpg", "/images/a.jpg",
                                 "javascript:alert(1)", "https://", "https://a b.example/x",
                                 "https://img.example.com/\x01", "",
                                 "https://img.example.com/" + "a" * URL_MAX])
def test_other_thumbnails_are_refused(url: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_input(ProductCreate, title="t", handle="h", thumbnail=url)
    assert info.value.field == "thumbnail"
