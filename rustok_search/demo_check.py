"""Prints `empty` when the configured database holds no tenant yet, else `loaded` (used by
`./run demo` to load demo data only once)."""

from __future__ import annotations

import asyncio

from core_write.db import connect
from core_write.settings import load_settings


async def _check() -> str:
    conn = await connect(load_settings().database_url)
    try:
        return "loaded" if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM tenants)") else "empty"
    finally:
        await conn.close()


if __name__ == "__main__":
    print(asyncio.run(_check()))
