"""Meilisearch engine configuration and index naming (pure)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from core_write.process_settings import DEFAULT_CURRENCIES
from core_write.settings import Settings
from indexer.model import BY_SECTION, DOC_TYPES, SPECS, DocType

__all__ = ["DOC_TYPES", "ENGINE", "MeiliConfig", "NEXT", "index_uid", "meili_config", "parse_uid"]

ENGINE = "meilisearch"
"""The `engine_queue.engine` value of this engine."""
NEXT = "__next"
"""Suffix of the index a rebuild fills before it is swapped in."""


@dataclass(frozen=True)
class MeiliConfig:
    url: str
    api_key: str = ""
    prefix: str = "rustok"
    batch: int = 1000
    task_timeout_ms: int = 60_000
    max_attempts: int = 5
    timeout_ms: int = 5000
    poll_interval_ms: int = 50
    currencies: tuple[str, ...] = field(default=DEFAULT_CURRENCIES)

    @property
    def poll_interval(self) -> float:
        return self.poll_interval_ms / 1000


def index_uid(prefix: str, tenant_id: uuid.UUID | str, doc_type: DocType) -> str:
    """`{prefix}_{tenant hex}_{products|content}`: one index per tenant and type, so a filter
    can never reach another tenant's documents."""
    tenant = uuid.UUID(str(tenant_id)).hex
    return f"{prefix}_{tenant}_{SPECS[doc_type].section}"


def parse_uid(prefix: str, uid: str) -> tuple[uuid.UUID, DocType] | None:
    """The tenant and type of an index uid made by `index_uid` (None for any other uid,
    including a rebuild's `__next` index)."""
    head = f"{prefix}_"
    if not uid.startswith(head):
        return None
    tenant_hex, _, suffix = uid[len(head):].partition("_")
    if suffix not in BY_SECTION or len(tenant_hex) != 32:
        return None
    try:
        return uuid.UUID(hex=tenant_hex), BY_SECTION[suffix]
    except ValueError:
        return None


def meili_config(settings: Settings) -> MeiliConfig:
    """The engine configuration from the process settings (prices are indexed for the
    currencies of `TANTIVY_CURRENCIES`, shared by both engines)."""
    return MeiliConfig(
        url=settings.meilisearch_url, api_key=settings.meilisearch_api_key,
        prefix=settings.meili_prefix, batch=settings.meilisearch_batch_size,
        task_timeout_ms=settings.meilisearch_task_timeout_ms,
        max_attempts=settings.meilisearch_max_attempts,
        timeout_ms=settings.meilisearch_timeout_ms,
        currencies=tuple(settings.tantivy_currencies),
    )
