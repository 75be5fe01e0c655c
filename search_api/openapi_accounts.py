"""The account routes of the OpenAPI document: tenants and API keys (pure)."""

from __future__ import annotations

from typing import Any

from search_api.openapi_blocks import (
    BODY_PROBLEMS,
    PROBLEMS,
    SECURITY,
    json_response,
    obj,
    param,
    problems,
    ref,
)


def account_paths() -> dict[str, Any]:
    """Tenants and keys (operator keys only)."""
    key_path = [{"name": "key", "in": "path", "required": True,
                 "schema": {"type": "string", "format": "uuid"}}]
    new_key = json_response(obj(key={"type": "string", "description": "shown this once"},
                                info=ref("KeyInfo")), "created")
    not_found = {"404": PROBLEMS["422"] | {"description": "no such tenant or key"}}
    return {
        "/v1/admin/tenants": {
            "get": {"summary": "Every tenant (operator)", "security": SECURITY,
                    "responses": {"200": json_response(obj(tenants={
                        "type": "array", "items": ref("TenantInfo")})),
                        **problems("401", "403", "503")}},
            "post": {"summary": "Create a tenant (operator)", "security": SECURITY,
                     "requestBody": {"required": True, "content": {
                         "application/json": {"schema": ref("TenantCreate")}}},
                     "responses": {"201": json_response(
                         obj(tenant=ref("TenantInfo"), consistency_token={"type": "integer"}),
                         "created"), **problems(*BODY_PROBLEMS)}}},
        "/v1/admin/tenants/{tenant}": {"get": {
            "summary": "One tenant by slug or id (operator)", "security": SECURITY,
            "parameters": [{"name": "tenant", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": json_response(obj(tenant=ref("TenantInfo"))), **not_found,
                          **problems("401", "403", "503")}}},
        "/v1/admin/keys": {
            "get": {"summary": "API keys without their secrets, newest first (operator)",
                    "security": SECURITY, "parameters": [
                        param("tenant", "only this tenant's keys (slug or id)"),
                        param("all", "include revoked and expired keys",
                              {"type": "boolean"})],
                    "responses": {"200": json_response(obj(keys={
                        "type": "array", "items": ref("KeyInfo")})),
                        **not_found, **problems("401", "403", "422", "503")}},
            "post": {"summary": "Create a key, optionally expiring (operator)",
                     "security": SECURITY, "requestBody": {"required": True, "content": {
                         "application/json": {"schema": ref("KeyCreate")}}},
                     "responses": {"201": new_key, **not_found, **problems(*BODY_PROBLEMS)}}},
        "/v1/admin/keys/{key}/revoke": {"post": {
            "summary": "Revoke a key: refused within API_KEY_CACHE_SECONDS (operator)",
            "security": SECURITY, "parameters": key_path,
            "responses": {"200": json_response(obj(info=ref("KeyInfo"))), **not_found,
                          **problems("401", "403", "422", "503")}}},
        "/v1/admin/keys/{key}/rotate": {"post": {
            "summary": "Replace an active key by a new one, revoking it (operator)",
            "security": SECURITY, "parameters": key_path,
            "requestBody": {"required": False, "content": {
                "application/json": {"schema": ref("KeyRotate")}}},
            "responses": {"201": new_key, "409": PROBLEMS["422"] | {
                "description": "the key is revoked or expired"}, **not_found,
                **problems(*BODY_PROBLEMS)}}},
    }
