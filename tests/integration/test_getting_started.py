"""docs/getting-started.md stays true: its `sh` blocks run in order, as one bash script, with
`rustok-search` against this test's database and `$API` pointing at the running app (relay
and indexer draining meanwhile, standing in for `rustok-search serve`)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from core_write.settings import Settings
from search_api.app import create_app
from tests.api_fixtures import api_settings
from tests.pipeline import Pipeline

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "getting-started.md"
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


def script() -> str:
    return "set -euo pipefail\n" + "\n".join(BLOCK.findall(GUIDE.read_text()))


def test_the_guide_has_runnable_blocks() -> None:
    body = script()
    for step in ("rustok-search migrate", "tenants create", "createProduct",
                 "searchProducts", "minToken", "keys rotate"):
        assert step in body


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")),
                    reason="the guide's examples use curl and jq (.ci/run installs them)")
async def test_the_getting_started_guide_runs(settings: Settings, pipeline: Pipeline) -> None:
    stop = asyncio.Event()

    async def drain() -> None:
        while not stop.is_set():
            if not await pipeline.settle():
                try:
                    await asyncio.wait_for(stop.wait(), 0.05)
                except TimeoutError:
                    pass

    server = TestServer(create_app(api_settings(settings, api_max_body_bytes=65536)),
                        host="127.0.0.1")
    await server.start_server()
    task = asyncio.create_task(drain())
    env = dict(os.environ, DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url,
               RUSTOK_STREAM_PREFIX=settings.stream_prefix,
               API=str(server.make_url("")).rstrip("/"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    try:
        proc = await asyncio.create_subprocess_exec(
            "bash", "-c", script(), env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        stop.set()
        await task
        await server.close()
    text = out.decode()
    assert proc.returncode == 0, text
    assert '"code":"VALIDATION","field":"input.handle"' in text
    assert '"title": "Storm lantern"' in text and '"stale": false' in text
    assert text.count("revoked") >= 1
    assert "2 written, 1 refused" in text and "line 3: handle: must be" in text
    assert '"state":"succeeded","lines_done":3,"written":2,"failed":1' in text
    assert '{"total":1,"stale":false,"title":"Enamel trail mug"}' in text
