"""Process settings read from the environment (and a `.env` file); no I/O beyond reading them.

`CoreSettings` holds what every process needs; each process and engine has its part in
`core_write/process_settings.py`, and `Settings` composes them all, so one object and one set
of variable names serve every entry point. Built once in each entry point's `main()`, never
at import time, so tests can construct `Settings(...)` with explicit values.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import NoDecode

from core_write.errors import SettingsError as SettingsError  # re-exported for callers
from core_write.process_settings import (
    ApiSettings,
    IndexerSettings,
    MeiliSettings,
    RelaySettings,
    SettingsPart,
    TantivySettings,
    split,
)

_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


class CoreSettings(SettingsPart):
    """What every process needs: PostgreSQL, Redis, the stream prefix, logging."""

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
    log_level: str = Field(default="INFO", alias="RUSTOK_LOG_LEVEL")
    migrations_dir: str = Field(default="", alias="RUSTOK_MIGRATIONS_DIR")
    """Where `migrate` finds the SQL files; empty: `migrations/` of the source tree."""

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
        value = split(value)
        if not value:
            raise ValueError("needs at least one consumer group name")
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


class Settings(CoreSettings, RelaySettings, IndexerSettings, TantivySettings, MeiliSettings,
               ApiSettings):
    """Everything a RusToK Search process can be told from its environment: every part, with
    the rules that span parts."""

    @model_validator(mode="after")
    def _meilisearch_needs_url(self) -> Settings:
        wants = "meilisearch" in self.engines or self.search_backend == "meilisearch"
        configured = bool(self.meilisearch_url or self.meilisearch_instances)
        if wants and not configured:
            raise ValueError("MEILISEARCH_URL is required when RUSTOK_ENGINES or SEARCH_BACKEND "
                             "names meilisearch (or MEILISEARCH_INSTANCES for several servers)")
        if self.meilisearch_url and self.meilisearch_instances:
            raise ValueError("set MEILISEARCH_URL (one server) or MEILISEARCH_INSTANCES "
                             "(several), not both")
        names = {name for name, _ in self.meilisearch_instances} or {"default"}
        unknown = sorted({name for name, _ in self.meilisearch_api_keys} - names)
        if unknown:
            raise ValueError(f"MEILISEARCH_API_KEYS names instances that are not configured: "
                             f"{', '.join(unknown)} (configured: {', '.join(sorted(names))})")
        if configured and "meilisearch" not in self.engines:
            # a configured Meilisearch is fed: the indexer queues changes for it
            object.__setattr__(self, "engines", (*self.engines, "meilisearch"))
        return self

    @property
    def meili_prefix(self) -> str:
        """The index uid prefix: MEILISEARCH_INDEX_PREFIX, else the stream prefix made safe."""
        return self.meilisearch_index_prefix or re.sub(r"[^A-Za-z0-9_-]", "-",
                                                       self.stream_prefix)


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
