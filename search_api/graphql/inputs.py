"""GraphQL input types generated from the pydantic models the REST API and `core_write` use,
so a field is defined once (pure).

Each model field becomes an input field of the mapped type: literals become strings, free-form
dicts JSON, nested models their own generated input. Required model fields are non-null; the
others default to UNSET, so "not given" stays distinct from `null` (an update changes only
what it was given). The values are validated by the model itself, never here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import types
import typing
import uuid
from enum import Enum
from typing import Any

import strawberry
from pydantic import AwareDatetime, BaseModel, SecretStr
from strawberry.scalars import JSON

_SIMPLE: dict[Any, Any] = {str: str, SecretStr: str, int: int, float: float, bool: bool,
                           uuid.UUID: uuid.UUID, dt.datetime: dt.datetime, dt.date: dt.date,
                           AwareDatetime: dt.datetime}
_GENERATED: dict[type[BaseModel], type] = {}


def _gql_type(annotation: Any) -> Any:
    """The GraphQL-side type of a model annotation (without its optionality)."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Annotated:
        return _gql_type(args[0])
    if origin in (typing.Union, types.UnionType):
        if len(args) == 1:
            return _gql_type(args[0])
        return JSON  # a union of models or scalars: checked by the model
    if origin is typing.Literal:
        return str
    if origin in (list, tuple, set, frozenset):
        return list[_gql_type(args[0] if args else Any)]  # type: ignore[misc]
    if annotation in _SIMPLE:
        return _SIMPLE[annotation]
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return input_type(annotation)
        if issubclass(annotation, Enum):
            return str
        for simple, mapped in _SIMPLE.items():
            if issubclass(annotation, simple):
                return mapped
    return JSON


def input_type(model: type[BaseModel], name: str | None = None) -> type:
    """The strawberry input type of `model` (one per model, named `<Model>Input`)."""
    if model in _GENERATED:
        return _GENERATED[model]
    annotations: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        mapped = _gql_type(info.annotation)
        if info.is_required():
            annotations[field_name] = mapped
        else:
            annotations[field_name] = mapped | None
            defaults[field_name] = strawberry.field(
                default=strawberry.UNSET, description=info.description)
    label = model.__name__.lstrip("_")
    name = name or (label if label.endswith("Input") else f"{label}Input")
    cls = type(name, (), {"__annotations__": annotations, **defaults})
    generated = strawberry.input(cls, description=inspect.cleandoc(model.__doc__ or "") or None)
    _GENERATED[model] = generated
    return generated


def given(value: Any) -> Any:
    """A generated input (nested ones too) as plain data holding only the fields given."""
    if isinstance(value, list):
        return [given(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: given(getattr(value, f.name)) for f in dataclasses.fields(value)
                if getattr(value, f.name) is not strawberry.UNSET}
    return value
