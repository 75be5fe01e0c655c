"""The operator routes of the OpenAPI document: reindex jobs, dead letters and the Meilisearch
instances tenants are placed on, with the `Job` schema (pure).
"""

from __future__ import annotations

from typing import Any

from search_api.openapi_blocks import (
    BODY_PROBLEMS,
    GET_PROBLEMS,
    PROBLEMS,
    SECURITY,
    int_param,
    json_response,
    list_param,
    obj,
    param,
    problems,
    ref,
)


def admin_paths() -> dict[str, Any]:
    from core_write.process_settings import INSTANCE_NAME
    from search_api.routes_admin import ENTRY_ID, JOB_STATES, MAX_DLQ_PAGE, MAX_JOBS, TENANT_REF

    return {
        "/v1/admin/reindex": {"get": {
            "summary": "Reindex jobs with their progress, newest first (admin: own tenant; "
                       "operator: any)", "security": SECURITY,
            "parameters": [
                list_param("state", "job states", {"enum": list(JOB_STATES)},
                           len(JOB_STATES)),
                param("tenant", "tenant slug or id (operator keys; admin keys see their own)",
                      {"type": "string", "pattern": TENANT_REF}),
                int_param("limit", "jobs", 1, MAX_JOBS)],
            "responses": {"200": json_response({"type": "object", "properties": {
                "jobs": {"type": "array", "items": ref("Job")}}}),
                **problems(*GET_PROBLEMS)}}, "post": {
            "summary": "Queue a reindex (admin: own tenant; operator: any)",
            "description": "Reindexing one document (`id`) needs its `type` (422 without).",
            "security": SECURITY,
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": ref("ReindexRequest")}}},
            "responses": {"202": json_response({"type": "object", "properties": {
                "job": ref("Job")}}, "queued"), **problems(*BODY_PROBLEMS)}}},
        "/v1/admin/reindex/{job}": {"get": {
            "summary": "A reindex job and its progress", "security": SECURITY,
            "parameters": [{"name": "job", "in": "path", "required": True,
                            "schema": {"type": "string", "format": "uuid"}}],
            "responses": {"200": json_response({"type": "object", "properties": {
                "job": ref("Job")}}), "404": PROBLEMS["422"] | {
                "description": "no such job"}, **problems(*GET_PROBLEMS)}}},
        "/v1/admin/dlq": {"get": {
            "summary": "Dead-lettered events (operator), oldest first", "security": SECURITY,
            "parameters": [
                param("after", "entry id to continue after (the previous `next`)",
                      {"type": "string", "pattern": ENTRY_ID}),
                int_param("limit", "entries", 1, MAX_DLQ_PAGE),
                param("queue", "`events` (the indexer's) or `engine` (documents an "
                               "external engine refused)",
                      {"type": "string", "enum": ["events", "engine"]})],
            "responses": {"200": json_response({"type": "object", "properties": {
                "entries": {"type": "array", "items": {"type": "object"}},
                "next": {"type": ["string", "null"]}, "total": {"type": "integer"}}}),
                **problems(*GET_PROBLEMS)}}},
        "/v1/admin/dlq/replay": {"post": {
            "summary": "Put dead letters back on the event stream, or refused documents back "
                       "in the engine queue (operator)",
            "security": SECURITY,
            "requestBody": {"required": False, "content": {
                "application/json": {"schema": ref("ReplayRequest")}}},
            "responses": {"200": json_response({"type": "object", "properties": {
                "replayed": {"type": "array", "items": {"type": "object"}},
                "missing": {"type": "array", "items": {"type": "string"}}}}),
                **problems(*BODY_PROBLEMS)}}},
        "/v1/admin/engines": {"get": {
            "summary": "Meilisearch instances: health, tenants, documents, moves (operator)",
            "security": SECURITY,
            "responses": {"200": json_response({"type": "object", "properties": {
                "instances": {"type": "array", "items": {"type": "object"}},
                "moves": {"type": "array", "items": {"type": "object"}}}}),
                "404": PROBLEMS["422"] | {"description": "no Meilisearch configured"},
                **problems(*GET_PROBLEMS)}}},
        "/v1/admin/engines/move": {"post": {
            "summary": "Move a tenant's Meilisearch indexes to another instance (operator)",
            "description": "Run by the elected indexer without downtime: searches stay on the "
                           "old instance until the switch. 409 when the tenant is already "
                           "there or being moved, 404 when it has no indexes yet.",
            "security": SECURITY,
            "requestBody": {"required": True, "content": {"application/json": {"schema": obj(
                tenant={"type": "string", "pattern": TENANT_REF},
                to={"type": "string", "pattern": INSTANCE_NAME.pattern})}}},
            "responses": {"202": json_response({"type": "object", "properties": {
                "move": {"type": "object"}}}, "filed"),
                "404": PROBLEMS["422"] | {"description": "no such tenant placement"},
                "409": PROBLEMS["422"] | {"description": "already there or moving"},
                **problems(*BODY_PROBLEMS)}}},
    }


def job_schema() -> dict[str, Any]:
    """The `Job` schema: a reindex job and its progress."""
    job: dict[str, Any] = {"type": "object", "properties": {
        name: {"type": kind} for name, kind in {
            "id": "string", "tenant_id": ["string", "null"], "type": ["string", "null"],
            "doc_type": ["string", "null"], "doc_id": ["string", "null"], "state": "string",
            "total": "integer", "done": "integer", "progress": "number", "errors": "integer",
            "rate": "number", "error": ["string", "null"], "attempts": "integer"}.items()}}
    job["properties"]["type"]["enum"] = ["products", "content", None]
    job["properties"]["doc_type"].update(
        deprecated=True, description="the internal name (`product`); use `type`")
    return job
