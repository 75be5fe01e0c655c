"""Meilisearch engine configuration and index naming (pure)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace

from core_write.process_settings import DEFAULT_CURRENCIES
from core_write.settings import Settings
from indexer.model import BY_SECTION, DOC_TYPES, SPECS, DocType

__all__ = ["DEFAULT_INSTANCE", "DOC_TYPES", "ENGINE", "Instance", "MeiliConfig", "NEXT",
           "index_uid", "meili_config", "parse_uid", "relevance_live_key"]

ENGINE = "meilisearch"
"""The `engine_queue.engine` value of this engine."""
NEXT = "__next"
"""Suffix of the index a rebuild fills before it is swapped in."""
DEFAULT_INSTANCE = "default"
"""The name of the one server of `MEILISEARCH_URL`."""


@dataclass(frozen=True)
class Instance:
    """One Meilisearch server of the deployment (`MEILISEARCH_INSTANCES`)."""

    name: str
    url: str
    api_key: str = field(default="", repr=False)


@dataclass(frozen=True)
class MeiliConfig:
    """The engine's settings. `url` and `api_key` are the server a client of this config
    talks to: the first of `servers` (`on` gives the config of another one)."""

    url: str
    api_key: str = field(default="", repr=False)
    prefix: str = "rustok"
    batch: int = 1000
    task_timeout_ms: int = 60_000
    max_attempts: int = 5
    timeout_ms: int = 5000
    poll_interval_ms: int = 1000
    """Between looks at an idle queue when no NOTIFY wakes the follower."""
    currencies: tuple[str, ...] = field(default=DEFAULT_CURRENCIES)
    instances: tuple[Instance, ...] = ()
    """Every server, in configuration order; empty: the one of `url`, named `default`."""
    placement_ttl_ms: int = 2000

    @property
    def poll_interval(self) -> float:
        return self.poll_interval_ms / 1000

    @property
    def servers(self) -> tuple[Instance, ...]:
        return self.instances or (Instance(DEFAULT_INSTANCE, self.url, self.api_key),)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(server.name for server in self.servers)

    def on(self, name: str) -> MeiliConfig:
        """This config for the server `name` (`url` and `api_key` are its own)."""
        for server in self.servers:
            if server.name == name:
                return replace(self, url=server.url, api_key=server.api_key)
        raise KeyError(f"no Meilisearch instance named {name!r} (configured: "
                       f"{', '.join(self.names)})")


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


def relevance_live_key(stream_prefix: str, tenant_id: uuid.UUID) -> str:
    """The Redis key holding the version of a tenant's relevance settings Meilisearch
    serves (the follower writes it, the admin API reports it)."""
    return f"{stream_prefix}:relevance-live:meilisearch:{tenant_id}"


def meili_config(settings: Settings) -> MeiliConfig:
    """The engine configuration from the process settings (prices are indexed for the
    currencies of `TANTIVY_CURRENCIES`, shared by both engines). Each instance's key is its
    own from `MEILISEARCH_API_KEYS`, else the shared `MEILISEARCH_API_KEY`."""
    keys = dict(settings.meilisearch_api_keys)
    instances = tuple(Instance(name, url, keys.get(name, settings.meilisearch_api_key))
                      for name, url in settings.meilisearch_instances)
    if not instances and DEFAULT_INSTANCE in keys:
        instances = (Instance(DEFAULT_INSTANCE, settings.meilisearch_url,
                              keys[DEFAULT_INSTANCE]),)
    first = instances[0] if instances else Instance(DEFAULT_INSTANCE,
                                                    settings.meilisearch_url,
                                                    settings.meilisearch_api_key)
    return MeiliConfig(
        url=first.url, api_key=first.api_key, instances=instances,
        placement_ttl_ms=settings.meilisearch_placement_ttl_ms,
        prefix=settings.meili_prefix, batch=settings.meilisearch_batch_size,
        task_timeout_ms=settings.meilisearch_task_timeout_ms,
        max_attempts=settings.meilisearch_max_attempts,
        timeout_ms=settings.meilisearch_timeout_ms,
        currencies=tuple(settings.tantivy_currencies),
    )
