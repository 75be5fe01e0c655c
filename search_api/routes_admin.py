"""Admin handlers: queue a reindex and watch its progress (admin keys: their tenant; operator
keys: any tenant), list and replay dead letters, list the Meilisearch instances and move a
tenant between them (operator keys) (I/O: PostgreSQL, Redis, Meilisearch)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar, cast

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core_write.errors import NotFound
from core_write.process_settings import INSTANCE_NAME
from core_write.validate import TENANT_SLUG_MAX
from indexer.engine_queue import enqueue
from indexer.meili.config import MeiliConfig, meili_config
from indexer.meili.placement import Placements, request_move, survey
from indexer.model import DocType
from indexer.reindex import create_job, get_job, resolve_scope
from search_api.auth import require_role
from search_api.errors import Problem, field_error, from_validation
from search_api.model import PUBLIC_DOC_TYPES
from search_api.params import parse_int, split_list
from search_api.queries import QUERIES
from search_api.routes_search import read_json
from search_api.value_types import schema_regex
from search_api.wiring import RESOURCES, SETTINGS

routes = web.RouteTableDef()
DLQ_ERROR_FIELDS = frozenset({b"error", b"entry_id", b"deliveries", b"failed_at", b"doc_type",
                              b"doc_id"})
MAX_REPLAY = 1000
MAX_DLQ_PAGE = 500
REPLAY_SCRIPT = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 1 then
  return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
end
return false
"""
"""Atomic and idempotent: an entry goes back onto the stream only by the call that removed
it from the dead-letter stream, so two concurrent replays never publish it twice."""
ENTRY_ID = r"^[0-9]{1,19}-[0-9]{1,19}$"
"""A stream entry id (`1700000000000-0`); 19 digits per part always fit Redis's u64."""
_ENTRY_ID = schema_regex(ENTRY_ID)
TENANT_REF = rf"^[a-z0-9](?:[a-z0-9-]{{0,{TENANT_SLUG_MAX - 2}}}[a-z0-9])?$"
"""A tenant slug (`core_write.validate.SLUG_RE`, at most TENANT_SLUG_MAX characters), or a
tenant id as lowercase UUID text (which has the shape of a slug)."""
_TENANT_REF = schema_regex(TENANT_REF)
DOC_ID = (r"^(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
          r"|[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25})$")
"""A document id: UUID text or a ULID."""
M = TypeVar("M", bound=BaseModel)
Entries = list[tuple[bytes, dict[bytes, bytes]]]


class ReindexRequest(BaseModel):
    """A reindex scope: a tenant (slug or id; operators may omit it for every tenant), a type
    (`products|content`, omitted: both) and one document id (needs the type)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tenant: str | None = Field(default=None, pattern=TENANT_REF)
    type: Literal["products", "content"] | None = None
    id: str | None = Field(default=None, pattern=DOC_ID)


Queue = Literal["events", "engine"]
DLQ_KEYS: dict[str, str] = {"events": "dlq", "engine": "engine-dlq"}
"""`events`: stream events the indexer gave up on; `engine`: documents an external engine
(Meilisearch) refused."""


class ReplayRequest(BaseModel):
    """Dead-letter entry ids to replay (omitted: the oldest 1000) from the `events` queue
    (back onto the event stream) or the `engine` queue (back into the engine's queue)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ids: list[Annotated[str, Field(pattern=ENTRY_ID)]] | None = Field(
        default=None, min_length=1, max_length=MAX_REPLAY)
    queue: Queue = "events"


JOB_STATES = ("queued", "running", "succeeded", "failed")
MAX_JOBS = 100


def job_json(job: dict[str, Any]) -> dict[str, Any]:
    """A job row as JSON, with its public `type` (`doc_type` is the internal name, kept for
    older clients) and `progress` (done / total, 0-1)."""
    out: dict[str, Any] = {}
    for name, value in job.items():
        if isinstance(value, uuid.UUID | datetime):
            value = str(value) if isinstance(value, uuid.UUID) else value.isoformat()
        out[name] = value
    out["type"] = PUBLIC_DOC_TYPES.get(job.get("doc_type"))  # type: ignore[arg-type]
    total, done = job.get("total") or 0, job.get("done") or 0
    out["progress"] = round(min(1.0, done / total), 4) if total else (
        1.0 if job.get("state") == "succeeded" else 0.0)
    return out


def _validated(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from None


@routes.post("/v1/admin/reindex")
async def reindex(request: web.Request) -> web.Response:
    key = require_role(request, "admin", "operator")
    body = _validated(ReindexRequest, await read_json(request))
    pool = request.app[RESOURCES].pool
    tenant = body.tenant
    if tenant is None and key.role == "admin":
        tenant = str(key.tenant_id)
    try:
        scope = await resolve_scope(pool, tenant, body.type, body.id)
    except NotFound:
        if key.role != "operator":  # do not tell admins which other tenants exist
            raise Problem(403, "this key may reindex only its own tenant",
                          errors=[{"field": "tenant", "message": "not this key's tenant"}],
                          slug="forbidden") from None
        raise field_error("tenant", f"no tenant {tenant!r}") from None
    if not key.may_manage(scope.tenant_id):
        raise Problem(403, "this key may reindex only its own tenant",
                      errors=[{"field": "tenant", "message": "not this key's tenant"}],
                      slug="forbidden")
    job = await create_job(pool, scope, f"api:{key.id}")
    return web.json_response({"job": job_json(job)}, status=202,
                             headers={"Location": f"/v1/admin/reindex/{job['id']}"})


@routes.get("/v1/admin/reindex")
async def reindex_jobs(request: web.Request) -> web.Response:
    """Jobs, newest first, filtered by `state` (comma-separated) and `tenant` (admin keys:
    always their own)."""
    key = require_role(request, "admin", "operator")
    for name in request.query:
        if name not in ("state", "tenant", "limit"):
            raise field_error(name[:64], "unknown parameter")
    states = split_list("state", request.query.getall("state")) \
        if "state" in request.query else None
    if states and not set(states) <= set(JOB_STATES):
        raise field_error("state", f"must be among {', '.join(JOB_STATES)}")
    limit = parse_int(request.query.get("limit", "20"), "limit", 1, MAX_JOBS)
    pool = request.app[RESOURCES].pool
    tenant_id = key.tenant_id  # admin keys: their own; operator keys: every tenant
    if "tenant" in request.query:
        if not _TENANT_REF.match(request.query["tenant"]):
            raise field_error("tenant", "must be a tenant slug or id")
        try:
            tenant_id = (await resolve_scope(pool, request.query["tenant"], None, None)).tenant_id
        except NotFound:
            if key.role == "operator":
                raise field_error("tenant", f"no tenant {request.query['tenant']!r}") from None
            tenant_id = None  # refused below, without telling admins which tenants exist
        if not key.may_manage(tenant_id):
            raise Problem(403, "this key may list only its own tenant's jobs",
                          errors=[{"field": "tenant", "message": "not this key's tenant"}],
                          slug="forbidden")
    rows = await pool.fetch(QUERIES["jobs_list"], states, tenant_id, limit)
    return web.json_response({"jobs": [job_json(dict(row)) for row in rows]})


@routes.get("/v1/admin/reindex/{job}")
async def reindex_job(request: web.Request) -> web.Response:
    key = require_role(request, "admin", "operator")
    try:
        job_id = uuid.UUID(request.match_info["job"])
    except ValueError:
        raise field_error("job", "not a job id (UUID)") from None
    job = await get_job(request.app[RESOURCES].pool, job_id)
    if not key.may_manage(job["tenant_id"]):
        raise Problem(403, "the job belongs to another tenant", slug="forbidden")
    return web.json_response({"job": job_json(job)})


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


async def _range(redis: Any, stream: str, low: str, high: str, count: int) -> Entries:
    return cast(Entries, await redis.xrange(stream, min=low, max=high, count=count) or [])


def _entry(entry_id: bytes, fields: dict[bytes, bytes]) -> dict[str, Any]:
    return {"id": _text(entry_id), "fields": {_text(k): _text(v) for k, v in fields.items()}}


@routes.get("/v1/admin/dlq")
async def dlq_list(request: web.Request) -> web.Response:
    require_role(request, "operator")
    after = request.query.get("after")
    if after is not None and not _ENTRY_ID.match(after):
        raise field_error("after", "must be a stream entry id like 1700000000000-0")
    limit = parse_int(request.query.get("limit", "50"), "limit", 1, MAX_DLQ_PAGE)
    queue = request.query.get("queue", "events")
    if queue not in DLQ_KEYS:
        raise field_error("queue", "must be 'events' or 'engine'")
    settings = request.app[SETTINGS]
    redis = request.app[RESOURCES].redis
    dlq = settings.key(DLQ_KEYS[queue])
    entries = await _range(redis, dlq, f"({after}" if after else "-", "+", limit)
    total = await redis.xlen(dlq)
    items = [_entry(entry_id, fields) for entry_id, fields in entries]
    following = items[-1]["id"] if len(items) == limit else None
    return web.json_response({"entries": items, "next": following, "total": total})


@routes.post("/v1/admin/dlq/replay")
async def dlq_replay(request: web.Request) -> web.Response:
    require_role(request, "operator")
    raw = await request.read()
    body = _validated(ReplayRequest, await read_json(request) if raw.strip() else {})
    settings = request.app[SETTINGS]
    redis = request.app[RESOURCES].redis
    dlq = settings.key(DLQ_KEYS[body.queue])
    if body.ids is None:
        found = await _range(redis, dlq, "-", "+", MAX_REPLAY)
        missing: list[str] = []
    else:
        found, missing = cast(Entries, []), []
        for wanted in dict.fromkeys(body.ids):
            got = await _range(redis, dlq, wanted, wanted, 1)
            if got:
                found.extend(got)
            else:
                missing.append(wanted)
    if body.queue == "engine":
        replayed = await _requeue(request, dlq, found, missing)
        return web.json_response({"replayed": replayed, "missing": missing})
    replayed = []
    for entry_id, fields in found:
        args: list[bytes] = [entry_id]
        for name, value in fields.items():
            if name not in DLQ_ERROR_FIELDS:
                args += [name, value]
        stream_id = await redis.eval(REPLAY_SCRIPT, 2, dlq, settings.stream, *args)
        if stream_id is None:  # a concurrent replay took it first
            missing.append(_text(entry_id))
        else:
            replayed.append({"id": _text(entry_id), "stream_id": _text(stream_id)})
    return web.json_response({"replayed": replayed, "missing": missing})


async def _requeue(request: web.Request, dlq: str, found: Entries,
                   missing: list[str]) -> list[dict[str, Any]]:
    """Queue each refused document again for its engine (idempotent: a document already
    queued gets a new position), then remove its dead letter."""
    pool = request.app[RESOURCES].pool
    redis = request.app[RESOURCES].redis
    replayed = []
    for entry_id, raw in found:
        fields = {_text(k): _text(v) for k, v in raw.items()}
        try:
            doc_type = fields["doc_type"]
            doc_id, tenant_id = uuid.UUID(fields["doc_id"]), uuid.UUID(fields["tenant_id"])
            if doc_type not in ("product", "content"):
                raise ValueError(doc_type)
        except (KeyError, ValueError):
            missing.append(_text(entry_id))  # not an engine dead letter: left where it is
            continue
        await enqueue(pool, [fields.get("engine", "meilisearch")], cast(DocType, doc_type),
                      [doc_id], [tenant_id])
        await redis.xdel(dlq, entry_id)
        replayed.append({"id": _text(entry_id), "doc_id": str(doc_id), "requeued": True})
    return replayed


class MoveRequest(BaseModel):
    """Move a tenant's Meilisearch indexes to the instance `to` (a name of
    MEILISEARCH_INSTANCES)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tenant: str = Field(pattern=TENANT_REF)
    to: str = Field(pattern=INSTANCE_NAME.pattern)


def _meili(request: web.Request) -> MeiliConfig:
    settings = request.app[SETTINGS]
    if "meilisearch" not in settings.engines:
        raise Problem(404, "no Meilisearch is configured (MEILISEARCH_URL or "
                           "MEILISEARCH_INSTANCES)", slug="not-found")
    return meili_config(settings)


@routes.get("/v1/admin/engines")
async def engines_list(request: web.Request) -> web.Response:
    """Each Meilisearch instance: health, tenants placed, documents, moves (operator)."""
    require_role(request, "operator")
    config = _meili(request)
    reports = await survey(request.app[RESOURCES].pool, config, for_search=True)
    moving = await Placements(request.app[RESOURCES].pool, None, "", config).moving()
    return web.json_response({
        "instances": [r.as_json() for r in reports],
        "moves": [{"tenant_id": str(p.tenant_id), "from": p.instance, "to": p.target,
                   "done": p.move_done, "total": p.move_total} for p in moving]})


@routes.post("/v1/admin/engines/move")
async def engines_move(request: web.Request) -> web.Response:
    """File a move (operator); the elected indexer runs it, `GET /v1/admin/engines` shows its
    progress. 202, or 409 when the tenant is already there or being moved."""
    require_role(request, "operator")
    body = _validated(MoveRequest, await read_json(request))
    config = _meili(request)
    pool = request.app[RESOURCES].pool
    try:
        scope = await resolve_scope(pool, body.tenant, None, None)
    except NotFound:
        raise field_error("tenant", f"no tenant {body.tenant!r}") from None
    assert scope.tenant_id is not None
    filed = await request_move(pool, config, scope.tenant_id, body.to)
    return web.json_response({"move": {"tenant_id": str(filed.tenant_id),
                                       "from": filed.instance, "to": filed.target,
                                       "state": filed.state}}, status=202)
