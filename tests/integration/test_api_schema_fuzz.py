"""A schema-driven fuzz run of the API: schemathesis reads the `/openapi.json` a real
`rustok-search api` process serves, generates requests that fit the document (positive) and
requests that break it (negative) for every operation, and sends them to two processes, one
searching PostgreSQL and one Tantivy, over a small indexed catalog. Any 5xx, any status,
content type or body the document does not describe, any request the document forbids but the
API accepts, or one it allows but the API refuses, a secured operation that answers without a
valid key, or a method the document does not declare that is not refused with 405, fails the
test."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from core_write.settings import Settings
from core_write.unit import CoreWrite
from tests.api_fixtures import indexed_catalog
from tests.api_process import api_process
from tests.pipeline import Pipeline

EXAMPLES = 400
"""Requests per backend (positive and negative cases drawn across every operation)."""
CROSS_FIELD_RULES = ("filter.price.currency: Field required", "min must not exceed max",
                     "strictly increasing", "price sorting and the price facet need `currency`",
                     "reindexing one document needs its type", "is not indexed by this engine",
                     # relevance settings and rules
                     "a group needs two different terms", "groups and one-way rules in all",
                     "two_typos_min must not be below one_typo_min",
                     "a rule needs at least one consequence", "must be after starts_at",
                     "two pins at one position", "a document pinned twice",
                     "do not apply to")
"""Rules between fields that JSON Schema cannot state; the document states them in the
operations' descriptions, and a schema-valid request may be refused (422) for them only."""


def positive_data_acceptance_but_cross_field(ctx: Any, response: Any, case: Any) -> Any:
    if response.status_code == 422 and any(rule in response.text for rule in CROSS_FIELD_RULES):
        return None
    return positive_data_acceptance(ctx, response, case)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection,
          positive_data_acceptance_but_cross_field, ignored_auth, unsupported_method]
CONFIG = schemathesis.Config.from_dict({"checks": {
    # a drawn job id or tenant rarely exists; a drawn import id drawn again names an import
    # of another body (409)
    "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409"]},
    # a long enough list is refused for its length first (API_MAX_QUERY_BYTES); a body of a
    # media type the operation does not read is a 415
    "negative_data_rejection": {"expected-statuses": ["400", "401", "403", "404", "405",
                                                      "409", "413", "414", "415", "422"]}}})
# an import body (NDJSON) is text: sent as it is drawn
schemathesis.serializer.alias(["application/x-ndjson", "application/jsonl",
                               "application/x-jsonlines"], "text/plain")


def fuzz(url: str, keys: dict[str, str]) -> int:
    """Run the fuzz cases against `url`; returns how many requests were sent."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    cases = st.one_of([operation.as_strategy(generation_mode=mode) for operation in operations
                       for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)])
    sent = 0

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def one(case: Any) -> None:
        nonlocal sent
        sent += 1
        path = case.operation.path
        who = "operator" if path.startswith("/v1/admin/dlq") else "admin"
        headers = {"Authorization": f"Bearer {keys[who]}"} if path.startswith("/v1/") else {}
        case.call_and_validate(base_url=url, headers=headers, checks=CHECKS)

    one()
    return sent


@pytest.mark.slow
async def test_every_backend_answers_as_its_document_says(
    settings: Settings, core: CoreWrite, pipeline: Pipeline, redis_client: aioredis.Redis,
    tmp_path: Path
) -> None:
    conf = settings.model_copy(update={"tantivy_dir": str(tmp_path / "tantivy")})
    keys = await indexed_catalog(conf, core, pipeline, redis_client)
    env = {"TANTIVY_DIR": conf.tantivy_dir, "API_REQUEST_TIMEOUT_MS": "10000"}
    sent = {}
    # the indexer runs, as in a deployment: writes the fuzz makes (a tenant's in_stock_first
    # through the relevance settings) are indexed, so /readyz stays ready
    stop = asyncio.Event()
    indexing = asyncio.create_task(_index_until(conf, core, pipeline, redis_client, stop))
    try:
        for backend in ("postgres", "tantivy"):
            async with api_process(settings, SEARCH_BACKEND=backend, **env) as api:
                sent[backend] = await asyncio.to_thread(fuzz, api.url, keys)
    finally:
        stop.set()
        await indexing
    assert sent == {"postgres": EXAMPLES, "tantivy": EXAMPLES}


async def _index_until(conf: Settings, core: CoreWrite, pipeline: Pipeline,
                       redis: aioredis.Redis, stop: asyncio.Event) -> None:
    """The indexer and the Tantivy follower, until `stop`."""
    from indexer.tantivy.engine import tantivy_config
    from indexer.tantivy.follower import TantivyFollower

    async with TantivyFollower(core.pool, redis, conf, tantivy_config(conf)) as follower:
        while not stop.is_set():
            await pipeline.settle()
            await follower.drain_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
