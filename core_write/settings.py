"""Process settings read from the environment (and a `.env` file); no I/O beyond reading them.

Built once in each entry point's `main()`, never at import time, so tests can construct
`Settings(...)` with explicit values.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core_write.errors import SettingsError as SettingsError  # re-exported for callers

_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


class Settings(BaseSettings):
    """Everything a RusToK Search process can be told from its environment."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/rustok", alias="DATABASE_URL"
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", alias="REDIS_URL")
    stream_prefix: str = Field(default="rustok", alias="RUSTOK_STREAM_PREFIX")
    db_pool_min: int = Field(default=1, ge=0, le=100, alias="RUSTOK_DB_POOL_MIN")
    db_pool_max: int = Field(default=10, ge=1, le=200, alias="RUSTOK_DB_POOL_MAX")
    consumer_groups: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("indexer",), alias="RUSTOK_CONSUMER_GROUPS"
    )
    relay_batch_size: int = Field(default=500, ge=1, le=10_000, alias="RELAY_BATCH_SIZE")
    relay_poll_interval: float = Field(default=1.0, gt=0, le=60, alias="RELAY_POLL_INTERVAL")
    relay_ack_sync_interval: float = Field(
        default=2.0, gt=0, le=3600, alias="RELAY_ACK_SYNC_INTERVAL"
    )
    relay_metrics_port: int = Field(default=9107, ge=0, le=65535, alias="RELAY_METRICS_PORT")
    relay_retention_seconds: int = Field(
        default=3600, ge=0, alias="RELAY_RETENTION_SECONDS"
    )
    log_level: str = Field(default="INFO", alias="RUSTOK_LOG_LEVEL")
    migrations_dir: str = Field(default="", alias="RUSTOK_MIGRATIONS_DIR")
    """Where `migrate` finds the SQL files; empty: `migrations/` of the source tree."""

    # indexer
    indexer_consumer: str = Field(default="", alias="INDEXER_CONSUMER_NAME")
    indexer_batch_size: int = Field(default=500, ge=1, le=10_000, alias="INDEXER_BATCH_SIZE")
    indexer_max_wait_ms: int = Field(default=10, ge=0, le=10_000, alias="INDEXER_MAX_WAIT_MS")
    indexer_claim_idle_ms: int = Field(
        default=30_000, ge=100, le=3_600_000, alias="INDEXER_CLAIM_IDLE_MS")
    indexer_max_deliveries: int = Field(default=5, ge=1, le=100, alias="INDEXER_MAX_DELIVERIES")
    indexer_retry_backoff_ms: int = Field(
        default=200, ge=1, le=600_000, alias="INDEXER_RETRY_BACKOFF_MS")
    indexer_apply_chunk: int = Field(default=1000, ge=1, le=50_000, alias="INDEXER_APPLY_CHUNK")
    indexer_metrics_port: int = Field(default=9108, ge=0, le=65535, alias="INDEXER_METRICS_PORT")
    index_drafts: bool = Field(default=True, alias="INDEX_DRAFTS")
    engines: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("tantivy",), alias="RUSTOK_ENGINES")
    tantivy_dir: str = Field(default="./data/tantivy", alias="TANTIVY_DIR")
    tantivy_writer_heap_mb: int = Field(default=128, ge=15, le=16_000,
                                        alias="TANTIVY_WRITER_HEAP_MB")
    tantivy_commit_interval_ms: int = Field(default=50, ge=1, le=60_000,
                                            alias="TANTIVY_COMMIT_INTERVAL_MS")
    tantivy_commit_max_docs: int = Field(default=5000, ge=1, le=1_000_000,
                                         alias="TANTIVY_COMMIT_MAX_DOCS")
    tantivy_batch: int = Field(default=2000, ge=1, le=100_000, alias="TANTIVY_BATCH")
    tantivy_poll_interval_ms: int = Field(default=20, ge=1, le=10_000,
                                          alias="TANTIVY_POLL_INTERVAL_MS")
    tantivy_currencies: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("EUR", "USD", "GBP", "JPY", "CHF", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN",
                 "CZK", "CNY", "INR", "BRL"), alias="TANTIVY_CURRENCIES")
    reindex_batch_size: int = Field(default=1000, ge=1, le=50_000, alias="REINDEX_BATCH_SIZE")
    reindex_workers: int = Field(default=2, ge=1, le=32, alias="REINDEX_WORKERS")
    reindex_schedule: str = Field(default="", alias="REINDEX_SCHEDULE")

    # search API
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
    api_shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=300,
                                              alias="API_SHUTDOWN_GRACE_SECONDS")
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=3600,
                                         alias="API_KEY_CACHE_SECONDS")
    search_backend: Literal["tantivy", "postgres", "meilisearch"] = Field(
        default="tantivy", alias="SEARCH_BACKEND")
    search_backend_fallback: Literal["", "postgres"] = Field(
        default="", alias="SEARCH_BACKEND_FALLBACK")
    """Serve from this backend when the configured engine cannot be reached at start-up."""

    # Meilisearch (external engine)
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
    ready_max_lag_seconds: float = Field(default=30.0, gt=0, le=86_400,
                                         alias="READY_MAX_LAG_SECONDS")
    stale_after_seconds: float = Field(default=2.0, gt=0, le=86_400,
                                       alias="SEARCH_STALE_AFTER_SECONDS")

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

    @model_validator(mode="after")
    def _meilisearch_needs_url(self) -> Settings:
        wants = "meilisearch" in self.engines or self.search_backend == "meilisearch"
        if wants and not self.meilisearch_url:
            raise ValueError("MEILISEARCH_URL is required when RUSTOK_ENGINES or SEARCH_BACKEND "
                             "names meilisearch")
        if self.meilisearch_url and "meilisearch" not in self.engines:
            # a configured Meilisearch is fed: the indexer queues changes for it
            object.__setattr__(self, "engines", (*self.engines, "meilisearch"))
        return self

    @property
    def meili_prefix(self) -> str:
        """The index uid prefix: MEILISEARCH_INDEX_PREFIX, else the stream prefix made safe."""
        return self.meilisearch_index_prefix or re.sub(r"[^A-Za-z0-9_-]", "-",
                                                       self.stream_prefix)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql:// or postgres://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("stream_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if not _PREFIX_RE.match(value):
            raise ValueError("must be 1-64 characters of letters, digits, '_', '.', ':' or '-'")
        return value

    @field_validator("consumer_groups", mode="before")
    @classmethod
    def _split_groups(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        if not value:
            raise ValueError("needs at least one consumer group name")
        return value

    @field_validator("engines", mode="before")
    @classmethod
    def _split_engines(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        unknown = set(value) - {"tantivy", "meilisearch"}
        if unknown:
            raise ValueError(f"unknown engines {sorted(unknown)}; known: tantivy, meilisearch")
        return tuple(value)

    @field_validator("tantivy_currencies", mode="before")
    @classmethod
    def _split_currencies(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(part.strip().upper() for part in value.split(",") if part.strip())
        bad = [code for code in value if not re.match(r"^[A-Z]{3}$", code)]
        if bad or not value or len(set(value)) != len(value):
            raise ValueError("needs distinct ISO 4217 codes such as EUR,USD")
        return tuple(value)

    @field_validator("api_cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(part.strip().rstrip("/") for part in value.split(",") if part.strip())
        bad = [o for o in value if o != "*" and not re.match(r"^https?://[^/\s]+$", o)]
        if bad:
            raise ValueError(f"origins must be '*' or scheme://host[:port], got {bad}")
        return tuple(value)

    @field_validator("reindex_schedule")
    @classmethod
    def _check_schedule(cls, value: str) -> str:
        if value:
            from croniter import croniter

            if not croniter.is_valid(value):
                raise ValueError("is not a valid cron expression (e.g. '0 3 * * *')")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return upper

    @property
    def stream(self) -> str:
        """The Redis stream that carries every domain event."""
        return f"{self.stream_prefix}:events"

    def key(self, name: str) -> str:
        """A Redis key owned by this deployment (all keys share the stream prefix)."""
        return f"{self.stream_prefix}:{name}"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning pydantic's report into one line per bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(part) for part in err["loc"]) or "?"
            lines.append(f"  {name}: {err['msg']} (got {err.get('input')!r})")
        raise SettingsError("invalid configuration:\n" + "\n".join(lines)) from None
