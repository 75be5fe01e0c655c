"""Which PostgreSQL errors are about one document's data (the chunk is halved to find it) and
which are not (the batch stays pending or fails whole)."""

from __future__ import annotations

import asyncpg
import pytest

from indexer.documents import document_error


@pytest.mark.parametrize("exc", [
    asyncpg.ProgramLimitExceededError("string is too long for tsvector"),
    asyncpg.CheckViolationError("violates check constraint"),
    asyncpg.NumericValueOutOfRangeError("integer out of range"),
    asyncpg.DivisionByZeroError("division by zero"),
    asyncpg.RaiseError("raised by a trigger"),
])
def test_data_errors_are_about_a_document(exc: Exception) -> None:
    assert document_error(exc)


@pytest.mark.parametrize("exc", [
    asyncpg.DeadlockDetectedError("deadlock"), asyncpg.QueryCanceledError("timeout"),
    asyncpg.AdminShutdownError("shutdown"), asyncpg.UndefinedTableError("no table"),
    asyncpg.PostgresSyntaxError("syntax"), asyncpg.InterfaceError("closed"),
    ValueError("not from PostgreSQL"),
])
def test_outages_and_broken_statements_are_not(exc: Exception) -> None:
    assert not document_error(exc)
