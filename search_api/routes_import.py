"""Bulk import over HTTP: `POST /v1/admin/import` streams an NDJSON body into an import job
(core_write/bulk_import.py), `GET /v1/admin/import[/{id}]` shows jobs and their refused lines
(admin keys: their tenant; operator keys: any tenant, named by `?tenant=`) (I/O: PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from aiohttp import web

from core_write import bulk_import, import_jobs
from core_write.errors import ImportTooLarge, NotFound
from indexer.reindex import resolve_scope
from search_api.auth import ApiKey, require_role
from search_api.errors import Problem, field_error
from search_api.params import parse_int
from search_api.routes_admin import _TENANT_REF
from search_api.wiring import RESOURCES, SETTINGS

routes = web.RouteTableDef()
IMPORT_PATH = "/v1/admin/import"
CONTENT_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")
READ_BYTES = 256 * 1024
MAX_LIST = 100


def import_json(job: dict[str, Any]) -> dict[str, Any]:
    """A job as JSON, with `progress` (bytes done / total bytes, 0-1, when the total is
    known)."""
    out: dict[str, Any] = {}
    for name, value in job.items():
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[name] = value
    out.pop("prefix_sha256", None)
    total = job.get("total_bytes")
    out["progress"] = round(min(1.0, job["bytes_done"] / total), 4) if total else (
        1.0 if job["state"] == "succeeded" else None)
    return out


async def _tenant(request: web.Request, key: ApiKey) -> uuid.UUID | None:
    """The tenant `?tenant=` names (admin keys: theirs, named or not; operator keys: None
    when not named)."""
    ref = request.query.get("tenant")
    if ref is None:
        return key.tenant_id
    if not _TENANT_REF.match(ref):
        raise field_error("tenant", "must be a tenant slug or id")
    try:
        tenant_id = (await resolve_scope(request.app[RESOURCES].pool, ref, None, None)).tenant_id
    except NotFound:
        if key.role == "operator":
            raise field_error("tenant", f"no tenant {ref!r}") from None
        tenant_id = None  # refused below, without telling admins which tenants exist
    if not key.may_manage(tenant_id):
        raise Problem(403, "this key may import only into its own tenant",
                      errors=[{"field": "tenant", "message": "not this key's tenant"}],
                      slug="forbidden")
    return tenant_id


def _import_id(text: str, field: str) -> uuid.UUID:
    from core_write.errors import InvalidId
    from core_write.ids import parse_id

    try:
        return parse_id(text, field)
    except InvalidId:
        raise field_error(field, "not an import id (UUID or ULID)") from None


@routes.post(IMPORT_PATH)
async def start_import(request: web.Request) -> web.Response:
    """Import the NDJSON body; `?id=` names the job (a new id starts it, an existing one of
    this tenant resumes it after its committed lines). Answers when the body is imported."""
    key = require_role(request, "admin", "operator")
    for name in request.query:
        if name not in ("tenant", "id"):
            raise field_error(name[:64], "unknown parameter")
    if request.content_type not in CONTENT_TYPES:
        raise Problem(415, f"the body must be NDJSON ({CONTENT_TYPES[0]}), one product or "
                      "node per line", errors=[{"field": "Content-Type",
                                                "message": f"not {request.content_type!r}"}],
                      slug="unsupported-media-type")
    tenant_id = await _tenant(request, key)
    if tenant_id is None:
        raise field_error("tenant", "an operator key names the tenant to import into")
    limit = request.app[SETTINGS].api_import_max_bytes
    if request.content_length is not None and request.content_length > limit:
        raise Problem(413, f"the body is longer than {limit} bytes (IMPORT_MAX_BYTES)",
                      errors=[{"field": "body", "message": "too large"}])
    pool = request.app[RESOURCES].pool
    job = None
    if "id" in request.query:
        import_id = _import_id(request.query["id"], "id")
        try:
            job = await import_jobs.get_job(pool, import_id)
        except NotFound:
            job = None
        else:
            if job["tenant_id"] != tenant_id:
                raise NotFound("import", import_id)
    else:
        import_id = None
    if job is None:
        job = await import_jobs.create_job(pool, tenant_id, f"api:{key.id}", source="http",
                                           total_bytes=request.content_length,
                                           import_id=import_id)
    importer = bulk_import.Importer(pool, job, max_bytes=limit)
    try:
        done = await importer.run(request.content.iter_chunked(READ_BYTES), f"api:{key.id}",
                                  request.content_length)
    except ImportTooLarge as exc:
        raise Problem(413, exc.message, errors=[{"field": "body", "message": "too large"}]
                      ) from None
    view = await import_jobs.job_view(pool, done, errors=1000)
    return web.json_response({"import": import_json(view)},
                             headers={"Location": f"{IMPORT_PATH}/{done['id']}"})


@routes.get(IMPORT_PATH)
async def list_imports(request: web.Request) -> web.Response:
    """Import jobs, newest first (admin keys: their tenant's; operator keys: every tenant's
    or `?tenant=`'s)."""
    key = require_role(request, "admin", "operator")
    for name in request.query:
        if name not in ("tenant", "limit"):
            raise field_error(name[:64], "unknown parameter")
    tenant_id = await _tenant(request, key)
    limit = parse_int(request.query.get("limit", "20"), "limit", 1, MAX_LIST)
    jobs = await import_jobs.list_jobs(request.app[RESOURCES].pool, tenant_id, limit)
    return web.json_response({"imports": [import_json(job) for job in jobs]})


@routes.get(IMPORT_PATH + "/{id}")
async def get_import(request: web.Request) -> web.Response:
    """One import's progress (lines and bytes done, written, failed, rate, `state`:
    running, interrupted, succeeded or failed) and its first refused lines (`?errors=`,
    default 100, at most 1000)."""
    key = require_role(request, "admin", "operator")
    import_id = _import_id(request.match_info["id"], "id")
    errors = parse_int(request.query.get("errors", "100"), "errors", 0, 1000)
    pool = request.app[RESOURCES].pool
    job = await import_jobs.get_job(pool, import_id)
    if not key.may_manage(job["tenant_id"]):
        raise NotFound("import", import_id)  # other tenants' imports do not exist for it
    return web.json_response({"import": import_json(await import_jobs.job_view(pool, job,
                                                                               errors))})
