"""The settings of each process and engine (relay, indexer, search API, Tantivy, Meilisearch),
each a part that `core_write.settings.Settings` composes with the core settings every process
needs; a part holds its own variables and their checks (no I/O)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core_write.currencies import ISO_4217

DEFAULT_CURRENCIES: tuple[str, ...] = ISO_4217
"""The currencies the engines index price fields for unless configured otherwise: every ISO
4217 code, so a price in any currency the write side accepts is searchable (README
"Currencies")."""


class SettingsPart(BaseSettings):
    """Read from the environment and `.env`; unknown variables are ignored; frozen."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )


def split(value: Any) -> Any:
    """A comma-separated variable as a tuple of its trimmed, non-empty parts."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


INSTANCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def named_pairs(value: Any) -> Any:
    """`name=value,name=value` as a tuple of (name, value) pairs with distinct names of
    lower-case letters, digits, '_' and '-' (pairs already split pass through)."""
    if not isinstance(value, str):
        return value
    pairs: list[tuple[str, str]] = []
    for part in split(value):
        name, sep, rest = part.partition("=")
        name, rest = name.strip(), rest.strip()
        if not sep or not rest:
            raise ValueError(f"{part!r} is not name=value")
        if not INSTANCE_NAME.match(name):
            raise ValueError(f"instance name {name!r}: 1-32 lower-case letters, digits, "
                             "'_' or '-'")
        if name in dict(pairs):
            raise ValueError(f"instance {name} is named twice")
        pairs.append((name, rest))
    return tuple(pairs)


class RelaySettings(SettingsPart):
    """The outbox relay."""

    relay_batch_size: int = Field(default=500, ge=1, le=10_000, alias="RELAY_BATCH_SIZE")
    relay_poll_interval: float = Field(default=1.0, gt=0, le=60, alias="RELAY_POLL_INTERVAL")
    relay_ack_sync_interval: float = Field(
        default=2.0, gt=0, le=3600, alias="RELAY_ACK_SYNC_INTERVAL"
    )
    relay_metrics_port: int = Field(default=9107, ge=0, le=65535, alias="RELAY_METRICS_PORT")
    relay_retention_seconds: int = Field(
        default=3600, ge=0, alias="RELAY_RETENTION_SECONDS"
    )


class IndexerSettings(SettingsPart):
    """The indexer daemon: stream consumer, engine feeding, reindex."""

    indexer_consumer: str = Field(default="", alias="INDEXER_CONSUMER_NAME")
    indexer_batch_size: int = Field(default=500, ge=1, le=10_000, alias="INDEXER_BATCH_SIZE")
    indexer_max_wait_ms: int = Field(default=10, ge=0, le=10_000, alias="INDEXER_MAX_WAIT_MS")
    indexer_claim_idle_ms: int = Field(
        default=30_000, ge=100, le=3_600_000, alias="INDEXER_CLAIM_IDLE_MS")
    indexer_heartbeat_ttl_ms: int = Field(
        default=5000, ge=500, le=600_000, alias="INDEXER_HEARTBEAT_TTL_MS")
    indexer_max_deliveries: int = Field(default=5, ge=1, le=100, alias="INDEXER_MAX_DELIVERIES")
    indexer_retry_backoff_ms: int = Field(
        default=200, ge=1, le=600_000, alias="INDEXER_RETRY_BACKOFF_MS")
    indexer_apply_chunk: int = Field(default=1000, ge=1, le=50_000, alias="INDEXER_APPLY_CHUNK")
    indexer_metrics_port: int = Field(default=9108, ge=0, le=65535, alias="INDEXER_METRICS_PORT")
    index_drafts: bool = Field(default=True, alias="INDEX_DRAFTS")
    engines: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("tantivy",), alias="RUSTOK_ENGINES")
    reindex_batch_size: int = Field(default=1000, ge=1, le=50_000, alias="REINDEX_BATCH_SIZE")
    reindex_workers: int = Field(default=2, ge=1, le=32, alias="REINDEX_WORKERS")
    reindex_schedule: str = Field(default="", alias="REINDEX_SCHEDULE")

    @field_validator("engines", mode="before")
    @classmethod
    def _split_engines(cls, value: Any) -> Any:
        value = split(value)
        unknown = set(value) - {"tantivy", "meilisearch"}
        if unknown:
            raise ValueError(f"unknown engines {sorted(unknown)}; known: tantivy, meilisearch")
        return tuple(value)

    @field_validator("reindex_schedule")
    @classmethod
    def _check_schedule(cls, value: str) -> str:
        if value:
            from croniter import croniter

            if not croniter.is_valid(value):
                raise ValueError("is not a valid cron expression (e.g. '0 3 * * *')")
        return value


class TantivySettings(SettingsPart):
    """The embedded Tantivy engine."""

    tantivy_dir: str = Field(default="./data/tantivy", alias="TANTIVY_DIR")
    tantivy_writer_heap_mb: int = Field(default=128, ge=15, le=16_000,
                                        alias="TANTIVY_WRITER_HEAP_MB")
    tantivy_writer_threads: int = Field(default=1, ge=1, le=8, alias="TANTIVY_WRITER_THREADS")
    tantivy_commit_interval_ms: int = Field(default=50, ge=1, le=60_000,
                                            alias="TANTIVY_COMMIT_INTERVAL_MS")
    tantivy_commit_max_docs: int = Field(default=5000, ge=1, le=1_000_000,
                                         alias="TANTIVY_COMMIT_MAX_DOCS")
    tantivy_commit_bulk_docs: int = Field(default=500, ge=1, le=1_000_000,
                                          alias="TANTIVY_COMMIT_BULK_DOCS")
    tantivy_commit_bulk_interval_ms: int = Field(default=1000, ge=1, le=60_000,
                                                 alias="TANTIVY_COMMIT_BULK_INTERVAL_MS")
    tantivy_batch: int = Field(default=2000, ge=1, le=100_000, alias="TANTIVY_BATCH")
    tantivy_poll_interval_ms: int = Field(default=1000, ge=1, le=10_000,
                                          alias="TANTIVY_POLL_INTERVAL_MS")
    tantivy_currencies: Annotated[tuple[str, ...], NoDecode] = Field(
        default=DEFAULT_CURRENCIES, alias="TANTIVY_CURRENCIES")

    @field_validator("tantivy_currencies", mode="before")
    @classmethod
    def _split_currencies(cls, value: Any) -> Any:
        value = tuple(code.upper() for code in split(value))
        bad = [code for code in value if code not in ISO_4217]
        if bad or not value or len(set(value)) != len(value):
            raise ValueError("needs distinct ISO 4217 codes such as EUR,USD"
                             + (f" (not ISO 4217: {', '.join(map(str, bad))})" if bad else ""))
        return tuple(value)


class MeiliSettings(SettingsPart):
    """The external Meilisearch engine."""

    meilisearch_url: str = Field(default="", alias="MEILISEARCH_URL")
    meilisearch_api_key: str = Field(default="", alias="MEILISEARCH_API_KEY", repr=False)
    meilisearch_index_prefix: str = Field(default="", alias="MEILISEARCH_INDEX_PREFIX")
    """Index uids are `{prefix}_{tenant}_{products|content}`; empty: from the stream prefix."""
    meilisearch_batch_size: int = Field(default=1000, ge=1, le=100_000,
                                        alias="MEILISEARCH_BATCH_SIZE")
    meilisearch_task_timeout_ms: int = Field(default=60_000, ge=100, le=3_600_000,
                                             alias="MEILISEARCH_TASK_TIMEOUT_MS")
    meilisearch_max_attempts: int = Field(default=5, ge=1, le=100,
                                          alias="MEILISEARCH_MAX_ATTEMPTS")
    meilisearch_timeout_ms: int = Field(default=5000, ge=100, le=600_000,
                                        alias="MEILISEARCH_TIMEOUT_MS")
    meilisearch_instances: Annotated[tuple[tuple[str, str], ...], NoDecode] = Field(
        default=(), alias="MEILISEARCH_INSTANCES")
    """Several servers, `name=url,name=url`; each tenant's indexes live on one of them
    (`engine_placements`). Unset: the one server of MEILISEARCH_URL, named `default`."""
    meilisearch_api_keys: Annotated[tuple[tuple[str, str], ...], NoDecode] = Field(
        default=(), alias="MEILISEARCH_API_KEYS", repr=False)
    """Per-instance keys, `name=key,...`; an instance not named uses MEILISEARCH_API_KEY."""
    meilisearch_placement_ttl_ms: int = Field(default=2000, ge=0, le=600_000,
                                              alias="MEILISEARCH_PLACEMENT_TTL_MS")
    """How long a process trusts the instance of a tenant it read; a move is announced on
    Redis at once, this bounds the delay when the announcement is missed."""

    @field_validator("meilisearch_instances", mode="before")
    @classmethod
    def _split_instances(cls, value: Any) -> Any:
        pairs = named_pairs(value)
        for name, url in pairs:
            if not re.match(r"^https?://[^/\s]+(/\S*)?$", url):
                raise ValueError(f"instance {name}: {url!r} is not an http:// or https:// URL")
        return tuple((name, url.rstrip("/")) for name, url in pairs)

    @field_validator("meilisearch_api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        return named_pairs(value)

    @field_validator("meilisearch_url")
    @classmethod
    def _check_meilisearch_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
            raise ValueError("must be an http:// or https:// URL such as http://127.0.0.1:7700")
        return value

    @field_validator("meilisearch_index_prefix")
    @classmethod
    def _check_index_prefix(cls, value: str) -> str:
        if value and not re.match(r"^[A-Za-z0-9_-]{1,64}$", value):
            raise ValueError("must be 1-64 characters of letters, digits, '_' or '-'")
        return value


class ApiSettings(SettingsPart):
    """The HTTP search API."""

    api_host: str = Field(default="127.0.0.1", alias="API_HOST")
    api_port: int = Field(default=8080, ge=0, le=65535, alias="API_PORT")
    api_cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="API_CORS_ORIGINS")
    api_request_timeout_ms: int = Field(default=5000, ge=100, le=600_000,
                                        alias="API_REQUEST_TIMEOUT_MS")
    api_max_body_bytes: int = Field(default=65_536, ge=1024, le=16_777_216,
                                    alias="API_MAX_BODY_BYTES")
    api_max_query_bytes: int = Field(default=4096, ge=256, le=65_536,
                                     alias="API_MAX_QUERY_BYTES")
    api_import_max_bytes: int = Field(default=1 << 30, ge=1024, le=1 << 40,
                                      alias="IMPORT_MAX_BYTES")
    """Bytes of one `POST /v1/admin/import` body (read as a stream, never held whole)."""
    api_shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=300,
                                              alias="API_SHUTDOWN_GRACE_SECONDS")
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=3600,
                                         alias="API_KEY_CACHE_SECONDS")
    relevance_cache_seconds: float = Field(default=2.0, ge=0, le=300,
                                           alias="RELEVANCE_CACHE_SECONDS")
    """How long an API process uses a tenant's relevance settings and rules before reading
    them again: a change is live on every replica within this delay."""
    search_backend: Literal["tantivy", "postgres", "meilisearch"] = Field(
        default="tantivy", alias="SEARCH_BACKEND")
    search_backend_fallback: Literal["", "postgres"] = Field(
        default="", alias="SEARCH_BACKEND_FALLBACK")
    """Serve from this backend when the configured engine cannot be reached at start-up, and
    the searches of tenants whose Meilisearch instance is down."""
    ready_max_lag_seconds: float = Field(default=30.0, gt=0, le=86_400,
                                         alias="READY_MAX_LAG_SECONDS")
    stale_after_seconds: float = Field(default=2.0, gt=0, le=86_400,
                                       alias="SEARCH_STALE_AFTER_SECONDS")

    @field_validator("api_cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        value = tuple(origin.rstrip("/") for origin in split(value))
        bad = [o for o in value if o != "*" and not re.match(r"^https?://[^/\s]+$", o)]
        if bad:
            raise ValueError(f"origins must be '*' or scheme://host[:port], got {bad}")
        return tuple(value)
