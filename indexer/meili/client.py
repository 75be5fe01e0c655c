"""Opening a Meilisearch client and telling an unreachable server from a wrong key, plus
waiting on tasks with the metrics every caller records, and the searches' own transport
(I/O: HTTP to Meilisearch)."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.errors import (
    MeilisearchApiError,
    MeilisearchCommunicationError,
    MeilisearchError,
    MeilisearchTimeoutError,
)
from meilisearch_python_sdk.models.task import TaskInfo

from core_write.errors import MeiliUnavailable as MeiliUnavailable  # re-exported: meili.X
from core_write.errors import SearchRefused as SearchRefused
from core_write.errors import TaskFailed as TaskFailed
from indexer import metrics
from indexer.meili.config import MeiliConfig

AUTH_CODES = frozenset({"missing_authorization_header", "invalid_api_key"})
NOT_FOUND = "index_not_found"


IDENTITY = {"Accept-Encoding": "identity"}
"""Asked of every response: Meilisearch gzips a response the client accepts gzipped (httpx
asks by default), which cost a search 1 ms of the server's CPU and, streamed in chunks, ~35 ms
of waiting on the connection (measured: 4.7 ms a search with it, 39 ms without)."""


def open_client(config: MeiliConfig) -> AsyncClient:
    return AsyncClient(config.url, config.api_key or None,
                       timeout=max(1, config.timeout_ms // 1000), custom_headers=IDENTITY)


def is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, MeilisearchApiError) and exc.code == NOT_FOUND


async def check(client: AsyncClient, config: MeiliConfig, *, for_search: bool = False) -> None:
    """Raise `MeiliUnavailable` saying whether the URL cannot be reached or the API key is
    refused. `/health` needs no key; the probe after it needs what the caller will do: an
    empty multi-search for the API (a search key is enough), listing indexes for the
    follower (it needs an admin key)."""
    try:
        await client.health()
    except (MeilisearchCommunicationError, MeilisearchTimeoutError, OSError) as exc:
        raise MeiliUnavailable(f"cannot reach Meilisearch at MEILISEARCH_URL={config.url}: "
                               f"{exc}") from None
    except MeilisearchApiError as exc:
        raise MeiliUnavailable(f"{config.url} answered /health with HTTP {exc.status_code}: "
                               "is MEILISEARCH_URL a Meilisearch server?") from None
    try:
        if for_search:
            await client.multi_search([])
        else:
            await client.get_indexes(limit=1)
    except MeilisearchApiError as exc:
        if exc.code in AUTH_CODES or exc.status_code in (401, 403):
            which = "is missing" if not config.api_key else "is not accepted"
            need = "search" if for_search else "admin (index and document)"
            raise MeiliUnavailable(f"Meilisearch at {config.url} is reachable but "
                                   f"MEILISEARCH_API_KEY {which} ({exc.code}); this process "
                                   f"needs a key with {need} rights") from None
        raise MeiliUnavailable(f"Meilisearch at {config.url}: {exc.message}") from None
    except MeilisearchError as exc:
        raise MeiliUnavailable(f"Meilisearch at {config.url}: {exc}") from None


async def wait(client: AsyncClient, task: TaskInfo, kind: str, timeout_ms: int) -> None:
    """Wait for a task; record its latency; raise `TaskFailed` if it failed."""
    started = time.monotonic()
    result = await client.wait_for_task(task.task_uid, timeout_in_ms=timeout_ms,
                                        interval_in_ms=10)
    metrics.MEILI_TASK_SECONDS.labels(kind).observe(time.monotonic() - started)
    if result.status != "succeeded":
        metrics.MEILI_FAILED_TASKS.labels(kind).inc()
        raise TaskFailed(kind, result.error or result.status)


class Searcher:
    """`POST /multi-search` over one aiohttp session, the searches' transport: through the
    SDK's httpx client a search cost the API process 0.98 ms of CPU, through aiohttp 0.46 ms
    (measured on the search bench's mix), and searches are the hot path. Everything else
    (tasks, settings, health) stays on the SDK client."""

    def __init__(self, config: MeiliConfig) -> None:
        self.config = config
        self.url = f"{config.url}/multi-search"
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:  # made in the loop that searches
            headers = {"Content-Type": "application/json", **IDENTITY}
            if self.config.api_key:
                headers["Authorization"] = f"Bearer {self.config.api_key}"
            self._session = aiohttp.ClientSession(
                headers=headers, connector=aiohttp.TCPConnector(limit=100),
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_ms / 1000))
        return self._session

    async def multi_search(self, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The results of `queries` (search parameters as Meilisearch's JSON names them), in
        order. `SearchRefused` for an error answer, `MeiliUnavailable` when the server does
        not answer in `MEILISEARCH_TIMEOUT_MS` or answers something else than JSON."""
        try:
            async with self._open().post(self.url, data=json.dumps({"queries": queries})
                                         ) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise MeiliUnavailable(f"cannot reach Meilisearch at MEILISEARCH_URL="
                                   f"{self.config.url}: {exc or type(exc).__name__}") from None
        try:
            data = json.loads(body)
        except ValueError:
            raise MeiliUnavailable(f"{self.config.url} answered a search with HTTP {status} "
                                   "and no JSON: is MEILISEARCH_URL a Meilisearch server?"
                                   ) from None
        if status != 200:
            raise SearchRefused(status, str(data.get("code")), str(data.get("message")))
        results: list[dict[str, Any]] = data["results"]
        return results

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
