"""The typed error hierarchy of every package; each class's docstring is its default message,
and `retryable` says whether running the operation again may succeed.

Library exceptions are translated into these at the boundary: asyncpg's in `core_write.db`,
tantivy's where an index is opened, Meilisearch's in `indexer.meili.client`; an outage of
PostgreSQL or Redis (`OUTAGES`) is retryable wherever it is caught.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class RustokError(Exception):
    """An error in RusToK Search."""

    retryable: bool = False

    def __init__(self, message: str | None = None, **context: Any) -> None:
        self.message = message or (self.__doc__ or type(self).__name__).strip()
        self.context = context
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": self.message, **self.context}


class NotFound(RustokError):
    """The requested entity does not exist."""

    def __init__(self, entity: str, entity_id: Any, message: str | None = None) -> None:
        super().__init__(message or f"{entity} {entity_id} not found", entity=entity,
                         id=str(entity_id))
        self.entity = entity
        self.entity_id = entity_id


class Conflict(RustokError):
    """The change conflicts with existing data (a duplicate key or an invalid state)."""

    def __init__(self, message: str | None = None, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.field = field


class ValidationFailed(RustokError):
    """The input is invalid."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.field = field


class InvalidId(ValidationFailed):
    """The value is neither a ULID nor a UUID."""

    def __init__(self, field: str, value: object) -> None:
        super().__init__(field, f"not a ULID or UUID: {value!r}")
        self.value = value


class ImportLineRefused(ValidationFailed):
    """A bulk import line is refused (`field`: the path in the line, "" for the whole line)."""

    def __init__(self, field: str, reason: str) -> None:
        reason = reason.removeprefix("Value error, ")  # pydantic's prefix for a check's error
        RustokError.__init__(self, f"{field}: {reason}" if field else reason, field=field)
        self.field, self.reason = field, reason


class ImportTooLarge(RustokError):
    """The import is longer than its byte limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the import is longer than {limit} bytes (IMPORT_MAX_BYTES)",
                         field="body")
        self.limit = limit


class TenantMismatch(RustokError):
    """The entity belongs to another tenant."""

    def __init__(self, entity: str, entity_id: Any) -> None:
        super().__init__(f"{entity} {entity_id} belongs to another tenant", entity=entity,
                         id=str(entity_id))
        self.entity = entity


class ModuleDisabled(RustokError):
    """The module is disabled for this tenant."""

    def __init__(self, module: str, tenant_id: Any) -> None:
        super().__init__(f"module {module!r} is disabled for tenant {tenant_id}",
                         module=module, tenant=str(tenant_id))
        self.module = module


class AuthenticationFailed(RustokError):
    """The email or password is wrong."""


class TransientConflict(RustokError):
    """The transaction collided with a concurrent one (deadlock or serialization failure);
    running the whole call again is safe."""

    retryable = True


class Unavailable(RustokError):
    """A backing service (PostgreSQL or Redis) is unreachable; the call may be retried."""

    retryable = True


class SettingsError(RustokError):
    """The configuration is invalid; the message names every bad variable."""


class MigrationError(RustokError):
    """The migrations cannot be applied."""


class RedisLost(RustokError):
    """Redis no longer holds the stream state this database published to."""


class RebuildRunning(RustokError):
    """A rebuild of this index is already running."""

    retryable = True


class Interrupted(RustokError):
    """The work stopped at a safe point (a page boundary, before a table swap) because its
    runner is stopping; the job is queued again."""


class TantivyError(RustokError):
    """The Tantivy index failed."""


class WriterLocked(TantivyError):
    """Another writer holds this index directory (one writer per directory)."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"another IndexWriter holds the lock on {path} (in this process or another one); "
            "only one tantivy follower may run per index directory", path=path,
        )
        self.path = path


class MeiliUnavailable(RustokError):
    """Meilisearch cannot be used: unreachable, or the key is wrong."""

    retryable = True


class InstanceDown(Unavailable):
    """The Meilisearch instance holding a tenant's indexes cannot be reached: its tenants'
    searches fail (503 naming it) while the other instances serve theirs."""

    def __init__(self, name: str, url: str, error: object) -> None:
        super().__init__(f"meilisearch instance {name} ({url}) cannot be reached ({error}); "
                         "the searches of the tenants placed on it fail until it is back",
                         instance=name)
        self.instance = name


class Deferred(RustokError):
    """An engine index cannot be written now (its server is unreachable): the follower
    leaves its queue rows for a later drain and writes the others."""

    retryable = True


class SearchRefused(RustokError):
    """Meilisearch answered a search with an error (`code` as Meilisearch names it)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code=code, status=status)
        self.status, self.code = status, code


class TaskFailed(RustokError):
    """A Meilisearch task ended in `failed` (the task's own error is the message)."""

    def __init__(self, kind: str, error: Any) -> None:
        detail = error.get("message") if isinstance(error, dict) else error
        code = error.get("code") if isinstance(error, dict) else None
        super().__init__(f"meilisearch {kind} task failed: {detail}", code=code)
        self.code = code


# ---- library errors ------------------------------------------------------------------------
OUTAGES: tuple[type[BaseException], ...] = (
    Unavailable, OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError, RedisConnectionError,
    # a server shutting down or restarting under us (tests/integration/test_server_restarts.py)
    asyncpg.AdminShutdownError, asyncpg.CrashShutdownError, RedisTimeoutError,
    # asyncpg 0.30-0.32 raises it when a pool resets a connection the server closed in the
    # middle of a query ("cannot switch to state 15; another operation is in progress")
    asyncpg.InternalClientError,
)
"""What an outage of PostgreSQL or Redis raises (a connection refused, lost, not accepted yet,
or too many): retryable, the operation can run again once the server is back and nothing is
poisoned. `core_write.db` translates asyncpg's into `Unavailable`; the consumer backs off."""
