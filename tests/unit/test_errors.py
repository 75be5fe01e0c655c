"""One error hierarchy: every exception the packages define is a `RustokError` defined in
core_write/errors.py, and library outages are retryable (no I/O)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import asyncpg
import pytest

from core_write import errors
from core_write.db import translate_errors

PACKAGES = ("core_write", "indexer", "search_api", "rustok_search")
HTTP_ONLY = {"search_api.errors.Problem"}
"""An HTTP response raised inside aiohttp handlers, not an error of the service."""


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        names.append(package)
        names += [info.name for info in pkgutil.walk_packages(module.__path__, package + ".")
                  if not info.name.endswith("__main__")]
    return names


def test_every_exception_class_lives_in_core_write_errors() -> None:
    outside = set()
    for name in _modules():
        for _, cls in inspect.getmembers(importlib.import_module(name), inspect.isclass):
            qualified = f"{cls.__module__}.{cls.__qualname__}"
            if issubclass(cls, BaseException) and cls.__module__.split(".")[0] in PACKAGES \
                    and cls.__module__ != "core_write.errors" and qualified not in HTTP_ONLY:
                outside.add(qualified)
    assert outside == set()


def test_every_error_is_a_rustok_error_and_says_if_it_is_retryable() -> None:
    classes = [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
               if issubclass(cls, Exception) and cls.__module__ == "core_write.errors"]
    assert all(issubclass(cls, errors.RustokError) for cls in classes)
    retryable = {cls.__name__ for cls in classes if cls.retryable}
    assert retryable == {"TransientConflict", "Unavailable", "RebuildRunning", "MeiliUnavailable",
                         "InstanceDown", "Deferred"}


@pytest.mark.parametrize("raised", [
    ConnectionRefusedError("refused"), asyncpg.CannotConnectNowError("starting up"),
    asyncpg.TooManyConnectionsError("too many"),
    asyncpg.ConnectionDoesNotExistError("closed in the middle"),
])
def test_an_outage_of_postgres_is_a_retryable_unavailable(raised: Exception) -> None:
    assert isinstance(raised, errors.OUTAGES)
    with pytest.raises(errors.Unavailable) as info, translate_errors():
        raise raised
    assert info.value.retryable


def test_a_rebuild_already_running_is_retryable_and_says_so_by_default() -> None:
    error = errors.RebuildRunning()
    assert error.retryable and str(error) == "A rebuild of this index is already running."
