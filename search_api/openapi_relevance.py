"""The relevance routes of the OpenAPI document: settings and their audit, synonyms and
merchandising rules (pure).
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
    obj,
    param,
    problems,
    ref,
)


def relevance_paths() -> dict[str, Any]:
    """Relevance settings, synonyms and merchandising rules (admin keys: their own tenant;
    operator keys: `?tenant=`)."""
    from search_api.routes_admin import TENANT_REF

    tenant = [param("tenant", "the tenant (slug or id): required for operator keys, "
                              "an admin key's own tenant otherwise",
                    {"type": "string", "pattern": TENANT_REF})]
    rule_path = [*tenant, {"name": "rule", "in": "path", "required": True,
                           "schema": {"type": "string", "format": "uuid"}}]
    settings = json_response(obj(
        version={"type": "integer"}, settings=ref("SettingsBody"),
        live_within_seconds={"type": "number"},
        meilisearch_version={"type": ["integer", "null"], "description":
                             "the version Meilisearch's indexes serve (live when equal to "
                             "`version`); null: none written there yet"},
        field_weights_live={"type": "boolean", "description":
                            "false while the reindex a change of `field_weights` queued has "
                            "not succeeded (the one setting not live at once)"},
        field_weights_job={"type": ["object", "null"], "description":
                           "that reindex job (id, state, done, total, error); null: none"}))
    synonyms = json_response(obj(version={"type": "integer"}, groups={"type": "array"},
                                 one_way={"type": "array"}))
    rule = obj(version={"type": "integer"}, rule={"type": "object"})
    not_found = {"404": PROBLEMS["422"] | {"description": "no such tenant or rule"}}

    def body(model: str) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": ref(model)}}}

    def write(summary: str, model: str, answer: dict[str, Any],
              created: bool = False) -> dict[str, Any]:
        extra = {"409": PROBLEMS["422"] | {"description": "the tenant has MAX_RULES rules"}} \
            if created else {}
        return {"summary": summary, "security": SECURITY, "parameters": tenant,
                "requestBody": body(model), "responses": {
                    "201" if created else "200": answer, **not_found, **extra,
                    **problems(*BODY_PROBLEMS)}}

    return {
        "/v1/admin/settings": {
            "get": {"summary": "The tenant's relevance settings and version",
                    "security": SECURITY, "parameters": tenant,
                    "responses": {"200": settings, **not_found, **problems(*GET_PROBLEMS)}},
            "put": write("Replace the relevance settings", "SettingsBody", settings),
            "patch": write("Change some relevance settings (objects merge one level deep)",
                           "SearchSettingsPatch", settings)},
        "/v1/admin/settings/audit": {"get": {
            "summary": "Who changed the settings and rules, when, before and after",
            "security": SECURITY, "parameters": [*tenant, int_param(
                "limit", "how many changes, newest first", 1, 200)],
            "responses": {"200": json_response(obj(changes={"type": "array"})), **not_found,
                          **problems(*GET_PROBLEMS)}}},
        "/v1/admin/synonyms": {
            "get": {"summary": "The tenant's synonyms", "security": SECURITY,
                    "parameters": tenant,
                    "responses": {"200": synonyms, **not_found, **problems(*GET_PROBLEMS)}},
            "put": write("Replace every synonym", "Synonyms", synonyms),
            "post": write("Add synonym groups and one-way rules", "Synonyms", synonyms),
            "delete": {"summary": "Remove every synonym", "security": SECURITY,
                       "parameters": tenant, "responses": {
                           "200": synonyms, **not_found, **problems(*GET_PROBLEMS)}}},
        "/v1/admin/rules": {
            "get": {"summary": "The tenant's merchandising rules in evaluation order",
                    "security": SECURITY, "parameters": tenant, "responses": {
                        "200": json_response(obj(version={"type": "integer"},
                                                 rules={"type": "array"})),
                        **not_found, **problems(*GET_PROBLEMS)}},
            "post": write("Create a rule", "RuleSpec", json_response(rule, "created"),
                          created=True)},
        "/v1/admin/rules/{rule}": {
            "get": {"summary": "One rule", "security": SECURITY, "parameters": rule_path,
                    "responses": {"200": json_response(rule), **not_found,
                                  **problems(*GET_PROBLEMS)}},
            "put": {**write("Replace a rule", "RuleSpec", json_response(rule)),
                    "parameters": rule_path},
            "delete": {"summary": "Delete a rule", "security": SECURITY,
                       "parameters": rule_path, "responses": {
                           "200": json_response(obj(version={"type": "integer"},
                                                    deleted={"type": "boolean"})),
                           **not_found, **problems(*GET_PROBLEMS)}}},
    }
