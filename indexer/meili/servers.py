"""The Meilisearch instances as the follower writes them: each one's client and indexes and
whether it answers (one that failed a request is left alone for a while, longer while it
stays unreachable), and the index on one instance a write goes to (no I/O of its own)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import asyncpg
from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.errors import (
    MeilisearchCommunicationError,
    MeilisearchTimeoutError,
)

from core_write.errors import MeiliUnavailable
from indexer import metrics
from indexer.meili import client as meili
from indexer.meili.config import MeiliConfig
from indexer.meili.indexes import MeiliIndexes

log = logging.getLogger(__name__)


DOWN_SECONDS = (0.5, 10.0)
"""After a failed request an instance is left alone for the first delay, doubling up to the
second while it stays unreachable."""


@dataclass(eq=False)
class Server:
    """One instance as the follower writes it."""

    name: str
    config: MeiliConfig
    client: AsyncClient
    indexes: MeiliIndexes
    owned: bool = False
    """The follower opened the client (and closes it)."""
    down_until: float = 0.0
    down_for: float = field(default=DOWN_SECONDS[0])

    def up(self) -> None:
        if self.down_until:
            log.info("meilisearch instance %s answers again", self.name,
                     extra={"action": "meili_instance_up"})
        self.down_until = 0.0
        self.down_for = DOWN_SECONDS[0]
        metrics.MEILI_INSTANCE_UP.labels(self.name).set(1)

    def down(self, error: BaseException) -> None:
        if not self.down_until:
            log.error("meilisearch instance %s (%s) cannot be reached: %s; its tenants' "
                      "changes stay queued", self.name, self.config.url, error,
                      extra={"action": "meili_instance_down"})
        else:
            self.down_for = min(self.down_for * 2, DOWN_SECONDS[1])
        self.down_until = time.monotonic() + self.down_for
        metrics.MEILI_INSTANCE_UP.labels(self.name).set(0)


@dataclass(frozen=True)
class Target:
    """An index on one instance."""

    server: Server
    uid: str


OUTAGE = (MeilisearchCommunicationError, MeilisearchTimeoutError, MeiliUnavailable, OSError,
          asyncio.TimeoutError)
"""The errors that say an instance cannot be reached (its tenants' changes stay queued)."""


def open_servers(pool: asyncpg.Pool, client: AsyncClient, config: MeiliConfig
                 ) -> dict[str, Server]:
    """Every instance of `config`, in its order: the first through `client`, the others
    through clients opened here (`owned`)."""
    servers: dict[str, Server] = {}
    for number, instance in enumerate(config.servers):
        own = config.on(instance.name)
        server_client = client if number == 0 else meili.open_client(own)
        servers[instance.name] = Server(
            instance.name, own, server_client,
            MeiliIndexes(pool, server_client, own, instance.name), owned=number > 0)
    return servers
