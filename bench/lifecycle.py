"""Starting and ending what a benchmark runs beside itself (I/O: processes, tasks, pools,
its scratch database and Redis keys), each end with a deadline: a bench that hangs at exit or
leaves a child behind reports nothing true.

Children die with the bench even if it is SIGKILLed (PR_SET_PDEATHSIG, as `serve` does); a
child that ignores SIGTERM past its grace is killed. Tasks are cancelled again until they end,
because redis-py's `get_message` can swallow a cancellation that lands while it times out.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import redis.asyncio as aioredis

from core_write.db import connect, create_pool, quote_ident, with_database
from core_write.migrations import migrate
from core_write.settings import Settings
from rustok_search.demo_writer import DemoSpec, load_demo
from rustok_search.supervisor import _die_with_parent

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
STOP_GRACE_SECONDS = 20.0
"""How long a child gets to finish its batch after SIGTERM before it is killed."""


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, where SIGTERM cancels `main` as Ctrl-C does, so that what it
    started is ended (its `finally` and exit stacks run) before the process exits."""
    async def guarded() -> T:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await main
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        raise SystemExit("stopped by SIGTERM") from None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a child to bind)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> None:
    """In a child, before exec: SIGTERM when this bench dies, even by SIGKILL."""
    _die_with_parent()


async def spawn_cli(command: str, env: Mapping[str, str]) -> asyncio.subprocess.Process:
    """`rustok-search COMMAND` as a child of this bench, from the project root."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rustok_search.cli", command, cwd=ROOT, env=dict(env),
        preexec_fn=die_with_parent)


async def stop_process(proc: asyncio.subprocess.Process,
                       grace: float = STOP_GRACE_SECONDS) -> int:
    """SIGTERM, then SIGKILL after `grace` seconds; returns the exit code."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.wait(), timeout=grace)
    except TimeoutError:
        print(f"child {proc.pid} did not stop {grace:.0f} s after SIGTERM: killing it",
              file=sys.stderr)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        return await proc.wait()


async def stop_tasks(tasks: Iterable[asyncio.Task[None]], timeout: float = 10.0) -> list[str]:
    """Cancel `tasks` and wait for them to end, repeating the cancel (see the module's
    docstring) until `timeout`; returns the names of those still running then. An exception
    a task ended with is printed, not raised: this runs on the way out."""
    tasks = list(tasks)
    left = {task for task in tasks if not task.done()}
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        for task in left:
            task.cancel()
        _, left = await asyncio.wait(left, timeout=max(0.01, min(0.5, deadline - time.monotonic())))
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            print(f"task {task.get_name()} failed: {task.exception()!r}", file=sys.stderr)
    if left:
        print(f"tasks still running {timeout:.0f} s after their cancel: "
              f"{sorted(task.get_name() for task in left)}", file=sys.stderr)
    return sorted(task.get_name() for task in left)


async def close_pool(pool: asyncpg.Pool, timeout: float = 10.0) -> None:
    """Close `pool`, terminating it if a connection is not released within `timeout`."""
    try:
        await asyncio.wait_for(pool.close(), timeout=timeout)
    except TimeoutError:
        pool.terminate()


async def drop_database(dsn: str, name: str) -> None:
    """Drop database `name` on the server of `dsn` (connections to it are ended)."""
    admin = await connect(with_database(dsn, "postgres"))
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
    finally:
        await admin.close()


async def delete_keys(redis: aioredis.Redis, match: str) -> None:
    """Delete the Redis keys matching the glob `match`."""
    keys = [key async for key in redis.scan_iter(match=match)]
    if keys:
        await redis.delete(*keys)


@dataclass(frozen=True)
class Scratch:
    """The names of one bench run's scratch state: a database beside DATABASE_URL's, a stream
    prefix, a Tantivy folder, their `settings`, and `env`, the environment of the service
    processes it starts (Tantivy the only engine, warnings only, no metrics ports)."""

    base: str
    redis_url: str
    name: str
    dsn: str
    tantivy_dir: str
    settings: Settings
    env: dict[str, str]


def scratch(prefix: str) -> Scratch:
    """Fresh scratch names `{prefix}_{8 hex}` (nothing is created yet: `scratch_catalog`)."""
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/rustok")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    dsn = with_database(base, name)
    tantivy_dir = f"/tmp/{name}"
    settings = Settings(DATABASE_URL=dsn, REDIS_URL=redis_url,
                        RUSTOK_STREAM_PREFIX=f"bench:{name}", TANTIVY_DIR=tantivy_dir)
    env = dict(os.environ, DATABASE_URL=dsn, REDIS_URL=redis_url,
               RUSTOK_STREAM_PREFIX=settings.stream_prefix, TANTIVY_DIR=tantivy_dir,
               RUSTOK_ENGINES="tantivy", RUSTOK_LOG_LEVEL="WARNING", RELAY_METRICS_PORT="0",
               INDEXER_METRICS_PORT="0")
    env.pop("MEILISEARCH_URL", None)  # it would add Meilisearch to the engines
    return Scratch(base, redis_url, name, dsn, tantivy_dir, settings, env)


async def scratch_catalog(stack: contextlib.AsyncExitStack, base: str, name: str,
                          redis_url: str, prefix: str, tantivy_dir: str, products: int,
                          nodes: int, pool_size: int) -> tuple[aioredis.Redis, asyncpg.Pool]:
    """A scratch database `name` (beside the one of `base`) migrated and loaded with a
    one-tenant demo catalog, an empty Tantivy folder, a Redis client and a pool; `stack`
    undoes them in reverse: the pool, the keys under `prefix`, the client, the database,
    the folder."""
    os.makedirs(tantivy_dir)
    stack.callback(shutil.rmtree, tantivy_dir, ignore_errors=True)
    stack.push_async_callback(drop_database, base, name)
    await migrate(with_database(base, name))
    redis = aioredis.Redis.from_url(redis_url)
    stack.push_async_callback(redis.aclose)
    stack.push_async_callback(delete_keys, redis, f"{prefix}:*")
    pool = await create_pool(with_database(base, name), max_size=pool_size)
    stack.push_async_callback(close_pool, pool)
    await load_demo(pool, DemoSpec(products=products, nodes=nodes, tenants=1, seed=1))
    return redis, pool


@contextlib.asynccontextmanager
async def meili_indexes(pool: asyncpg.Pool, redis: aioredis.Redis,
                        settings: Any) -> AsyncIterator[Any]:
    """Every tenant's Meilisearch indexes built from the index tables and the queue drained,
    through a `MeiliFollower` (yielded: searches, or its `run`, may follow); at exit the
    indexes of the settings' prefix are deleted. For benches and tests with a server at
    MEILISEARCH_URL."""
    from indexer.meili import client as meili
    from indexer.meili.config import meili_config
    from indexer.meili.follower import MeiliFollower

    config = meili_config(settings)
    async with meili.open_client(config) as client:
        follower = MeiliFollower(pool, redis, client, config, settings.stream_prefix)
        try:
            for tenant_id, doc_type in await follower.indexes.start():
                await follower.rebuild(tenant_id, doc_type)
            while await follower.drain_once():
                pass
            yield follower
        finally:
            for index in await client.get_indexes(limit=1000) or []:
                if index.uid.startswith(config.prefix + "_"):
                    await client.index(index.uid).delete()
