"""The unit of work: one PostgreSQL transaction holding a service call's row changes and the
outbox rows of its events, so a committed write always has its events and a rolled-back one
never does (DESIGN invariant 1). I/O: PostgreSQL."""

from __future__ import annotations

import asyncio
import functools
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

import asyncpg

from core_write.db import translate_errors
from core_write.errors import ModuleDisabled, NotFound, TransientConflict, ValidationFailed
from core_write.events import Event, EventEnvelope
from core_write.ids import new_id, parse_id
from core_write.queries import QUERIES
from core_write.validate import check_input

T = TypeVar("T")
RETRIES = 4
P = ParamSpec("P")


@dataclass
class Unit:
    """A service call's transaction: its connection and the events it will commit."""

    conn: asyncpg.Connection
    envelopes: list[EventEnvelope] = field(default_factory=list)
    written: list[EventEnvelope] = field(default_factory=list)
    token: int | None = None
    """The highest outbox seq written by this unit, set at commit: its consistency token."""

    def emit(self, tenant_id: uuid.UUID, event: Event) -> EventEnvelope:
        envelope = EventEnvelope(
            id=new_id(), tenant_id=tenant_id, timestamp=datetime.now(UTC),
            event=event,  # type: ignore[arg-type]
        )
        self.envelopes.append(envelope)
        return envelope

    checked_modules: set[tuple[uuid.UUID, str]] = field(default_factory=set)
    known_tenants: set[uuid.UUID] = field(default_factory=set)

    async def require_tenant(self, tenant_id: uuid.UUID) -> None:
        """Raise NotFound unless the tenant exists (checked once per unit)."""
        if tenant_id in self.known_tenants:
            return
        if not await self.conn.fetchval(QUERIES["tenant_exists"], tenant_id):
            raise NotFound("tenant", tenant_id)
        self.known_tenants.add(tenant_id)

    async def require_module(self, tenant_id: uuid.UUID, module: str) -> None:
        """Raise ModuleDisabled unless the tenant enabled `module` (NotFound if there is no
        such tenant). The toggle row stays share-locked until commit, so one check per unit
        is enough."""
        if (tenant_id, module) in self.checked_modules:
            return
        enabled = await self.conn.fetchval(QUERIES["module_enabled"], tenant_id, module)
        if enabled is None:  # every tenant has a toggle row per module: is it the tenant?
            await self.require_tenant(tenant_id)
        if not enabled:
            raise ModuleDisabled(module, tenant_id)
        self.checked_modules.add((tenant_id, module))
        self.known_tenants.add(tenant_id)

    async def flush(self) -> None:
        """Write the pending events to the outbox (inside the transaction)."""
        if not self.envelopes:
            return
        pending, self.envelopes = self.envelopes, []
        token = await self.conn.fetchval(
            QUERIES["outbox_insert"],
            [e.id for e in pending],
            [e.tenant_id for e in pending],
            [e.event.aggregate[0] for e in pending],
            [e.event.aggregate[1] for e in pending],
            [e.event.type for e in pending],
            [e.model_dump(mode="json") for e in pending],
            [e.timestamp for e in pending],
        )
        self.token = max(self.token or 0, token)
        self.written.extend(pending)


def write_service(
    module: str | None = None,
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Mark an entity service (`service(unit, tenant_id, ...)`, or without a tenant) and run
    the checks every write shares before it: the text and nesting of every argument
    (`core_write.validate.check_input`, naming the field), that a parameter declared `str`
    got one, the shape of `tenant_id` (`InvalidId`), that the tenant exists (`NotFound`) and,
    given `module`, that the tenant enabled it (`ModuleDisabled`). The service receives
    `tenant_id` as a UUID."""

    def wrap(service: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        signature = inspect.signature(service)
        texts = {name for name, param in signature.parameters.items()
                 if param.annotation in ("str", "str | None")}

        @functools.wraps(service)
        async def checked(*args: P.args, **kwargs: P.kwargs) -> T:
            bound = signature.bind(*args, **kwargs)
            values = bound.arguments
            for name, value in list(values.items())[1:]:
                if name in texts and not isinstance(value, str | None):
                    raise ValidationFailed(name, f"must be text, not {type(value).__name__}")
                check_input(value, "" if name == "data" else name)
            if "tenant_id" in values:
                tenant_id = parse_id(values["tenant_id"], "tenant_id")
                values["tenant_id"] = tenant_id
                unit: Unit = values["unit"]
                if module is None:
                    await unit.require_tenant(tenant_id)
                else:
                    await unit.require_module(tenant_id, module)
            return await service(*bound.args, **bound.kwargs)

        return checked

    return wrap


@dataclass(frozen=True)
class Written(Generic[T]):
    """A service call's result and the consistency token of the events it committed."""

    value: T
    token: int | None


class CoreWrite:
    """Entry point of the write side: runs service calls in units of work."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Unit]:
        """One transaction; the events emitted inside it are written to the outbox before commit."""
        with translate_errors():
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(QUERIES["capture_off"])
                unit = Unit(conn)
                yield unit
                await unit.flush()

    async def call(
        self,
        service: Callable[Concatenate[Unit, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Written[T]:
        """Run one service function in its own unit of work. A unit that PostgreSQL aborted
        for a deadlock or serialization failure left nothing behind, so it is run again (up
        to `RETRIES` times, with a short growing pause)."""
        for attempt in range(1, RETRIES + 1):
            try:
                async with self.unit() as unit:
                    value = await service(unit, *args, **kwargs)
                return Written(value, unit.token)
            except TransientConflict:
                if attempt == RETRIES:
                    raise
                await asyncio.sleep(0.005 * attempt * attempt)
        raise AssertionError("unreachable")


async def run_in_unit(conn: asyncpg.Connection, service: Callable[..., Awaitable[Any]],
                      *args: Any, **kwargs: Any) -> Any:
    """Run a service on a caller-owned connection and transaction (the caller commits)."""
    unit = Unit(conn)
    with translate_errors():
        await conn.execute(QUERIES["capture_off"])
        value = await service(unit, *args, **kwargs)
        await unit.flush()
    return value
