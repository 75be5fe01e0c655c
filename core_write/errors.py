"""The typed error hierarchy every service raises; each class's docstring is its default message.

Library exceptions (asyncpg) are translated into these at the boundary (`core_write.db`).
"""

from __future__ import annotations

from typing import Any


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
