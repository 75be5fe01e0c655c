"""The bulk-import routes of the OpenAPI document, with the `ImportJob` schema (pure)."""

from __future__ import annotations

from typing import Any

from search_api.openapi_blocks import (
    GET_PROBLEMS,
    PROBLEMS,
    SECURITY,
    int_param,
    json_response,
    obj,
    param,
    problems,
    ref,
)


def import_paths() -> dict[str, Any]:
    """Bulk import (admin: own tenant; operator: `?tenant=`)."""
    from core_write.bulk_import import CHUNK_LINES
    from core_write.import_lines import LINE_MAX_BYTES
    from search_api.routes_admin import DOC_ID, TENANT_REF
    from search_api.routes_import import CONTENT_TYPES, IMPORT_PATH, MAX_LIST

    tenant = param("tenant", "tenant slug or id (operator keys: required to import; admin "
                             "keys: their own only)", {"type": "string", "pattern": TENANT_REF})
    import_id = {"type": "string", "pattern": DOC_ID}
    job = json_response(obj(**{"import": ref("ImportJob")}))
    # no `type`: every body is text to the import, read line by line (a line that is not a
    # JSON object is reported as a refused line, never the request)
    lines = {"description": (
        "NDJSON: one JSON object per line, `ImportProductLine` (`type` `product` or absent) "
        f"or `ImportNodeLine` (`type` `node`); at most {LINE_MAX_BYTES} bytes a line, "
        "IMPORT_MAX_BYTES (default 1 GiB) in all, read as a stream")}
    return {
        IMPORT_PATH: {"get": {
            "summary": "Import jobs, newest first (admin: own tenant; operator: any)",
            "security": SECURITY,
            "parameters": [tenant, int_param("limit", "jobs", 1, MAX_LIST)],
            "responses": {"200": json_response(obj(imports={"type": "array",
                                                            "items": ref("ImportJob")})),
                          **problems(*GET_PROBLEMS)}}, "post": {
            "summary": "Import products and content nodes from an NDJSON body",
            "description": (
                f"Lines are validated one by one and written {CHUNK_LINES} per transaction; "
                "a refused line is reported (`errors`: line, field, reason) and the others "
                "are written, each line whole or not at all. A product's `handle` (a node's "
                "`kind` and `slug`) is its idempotency key: an existing product is replaced "
                "with the line's fields and parts, never duplicated. Answers when the body is "
                "imported; `GET /v1/admin/import/{id}` shows the progress meanwhile. `id` "
                "names the job: an existing id of this tenant resumes it (the same body "
                "again: its committed part is skipped after a hash check, 409 if it "
                "differs); a new one starts it."),
            "security": SECURITY,
            "parameters": [tenant, param("id", "the import's id (new: start; existing: "
                                               "resume)", import_id)],
            "requestBody": {"required": True, "content": {
                kind: {"schema": lines} for kind in CONTENT_TYPES}},
            "responses": {"200": job | {"headers": {"Location": {
                "description": "the job's URL", "schema": {"type": "string"}}}},
                "404": PROBLEMS["422"] | {"description": "no such import (of this tenant)"},
                "409": PROBLEMS["422"] | {"description": "the import runs elsewhere, or the "
                                                         "body differs from its committed "
                                                         "part"},
                **problems("400", "401", "403", "413", "414", "415", "422", "503")}}},
        IMPORT_PATH + "/{id}": {"get": {
            "summary": "An import's progress and its first refused lines",
            "description": "`state`: running, interrupted (its runner died: post the same "
                           "body with this `id` to resume), succeeded or failed.",
            "security": SECURITY,
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": import_id},
                           int_param("errors", "refused lines listed", 0, 1000)],
            "responses": {"200": job, "404": PROBLEMS["422"] | {
                "description": "no such import (of this tenant)"},
                **problems(*GET_PROBLEMS)}}},
    }


def import_job_schema() -> dict[str, Any]:
    """The `ImportJob` schema: an import's progress and its first refused lines."""
    return obj(**{name: {"type": kind} for name, kind in {
        "id": "string", "tenant_id": "string", "requested_by": "string", "source": "string",
        "source_sha256": ["string", "null"], "total_bytes": ["integer", "null"],
        "lines_done": "integer", "bytes_done": "integer", "written": "integer",
        "failed": "integer", "rate": "number", "error": ["string", "null"],
        "consistency_token": ["integer", "null"],
        "started_at": "string", "updated_at": "string", "finished_at": ["string", "null"],
        "progress": ["number", "null"]}.items()}, state={"enum": [
            "running", "interrupted", "succeeded", "failed"]}, errors={
        "type": "array", "items": obj(line={"type": "integer"}, field={"type": "string"},
                                      reason={"type": "string"})})
