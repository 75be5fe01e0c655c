"""Relevance administration over HTTP: a tenant's search settings, synonyms and merchandising
rules (admin keys: their own tenant; operator keys: any tenant, named by `?tenant=`)
(I/O: PostgreSQL through `relevance_store`)."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from core_write.errors import NotFound
from core_write.services.tenants import TenantSettings, TenantUpdate
from core_write.unit import CoreWrite
from indexer.meili.config import relevance_live_key
from indexer.model.relevance import SearchSettings, Synonyms
from search_api import relevance_store as store
from search_api.accounts import change_tenant, show_tenant, tenant_id_of
from search_api.auth import ApiKey, require_role
from search_api.errors import Problem, field_error, from_validation
from search_api.params import parse_int
from search_api.routes_admin import TENANT_REF
from search_api.routes_search import read_json
from search_api.rules import RuleSpec
from search_api.value_types import schema_regex
from search_api.wiring import RELEVANCE, RESOURCES, SETTINGS

routes = web.RouteTableDef()
_TENANT_REF = schema_regex(TENANT_REF)


async def _tenant(request: web.Request) -> tuple[ApiKey, uuid.UUID]:
    """The tenant a request administers: an admin key's own (a `tenant` naming another is
    refused), the `tenant` an operator key names."""
    key = require_role(request, "admin", "operator")
    allowed = ("tenant", "limit") if request.path.endswith("/audit") else ("tenant",)
    for name in request.query:
        if name not in allowed:
            raise field_error(name[:64], "unknown parameter")
        if len(request.query.getall(name)) > 1:
            raise field_error(name, "given more than once", status=400)
    ref = request.query.get("tenant")
    if ref is not None and not _TENANT_REF.match(ref):
        raise field_error("tenant", "must be a tenant slug or id")
    if key.role == "operator":
        if not ref:
            raise field_error("tenant", "operator keys name the tenant (?tenant=SLUG)")
        try:
            return key, await tenant_id_of(request.app[RESOURCES].pool, ref)
        except NotFound:
            raise field_error("tenant", f"no tenant {ref[:100]!r}", status=404) from None
    assert key.tenant_id is not None
    if ref is not None:
        try:
            named = await tenant_id_of(request.app[RESOURCES].pool, ref)
        except NotFound:
            named = None
        if named != key.tenant_id:
            raise Problem(403, "this key administers only its own tenant",
                          errors=[{"field": "tenant", "message": "not this key's tenant"}],
                          slug="forbidden")
    return key, key.tenant_id


def _actor(key: ApiKey) -> str:
    return f"key:{key.id}"


async def _body(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise field_error("body", "must be a JSON object")
    return body


def _changed(request: web.Request, tenant_id: uuid.UUID) -> None:
    request.app[RELEVANCE].forget(tenant_id)


class SettingsBody(SearchSettings):
    """The relevance settings as the API reads and writes them: with the tenant's
    `in_stock_first` (kept with the tenant, as `tenants update` sets it; left as it is when
    not given)."""

    in_stock_first: bool | None = None


async def _settings_answer(request: web.Request, tenant_id: uuid.UUID, version: int,
                           settings: SearchSettings) -> web.Response:
    """The setting and its version, and within how many seconds every API process uses it
    (`RELEVANCE_CACHE_SECONDS`; `in_stock_first`: `API_KEY_CACHE_SECONDS`; `field_weights`:
    once the reindex job its change started has succeeded)."""
    tenant = await show_tenant(request.app[RESOURCES].pool, str(tenant_id))
    live = await request.app[RESOURCES].redis.get(
        relevance_live_key(request.app[SETTINGS].stream_prefix, tenant_id))
    return web.json_response({
        "version": version,
        "settings": {**store.settings_json(settings), "in_stock_first": tenant.in_stock_first},
        "live_within_seconds": request.app[RELEVANCE].ttl,
        # Meilisearch keeps synonyms, stop words, typo switches and the field order as
        # index settings: the version its indexes serve (null: none written there yet)
        "meilisearch_version": int(live) if live is not None else None,
        # the one setting not live at once: a change of the field weights reindexes
        **await store.weights_state(request.app[RESOURCES].pool, tenant_id)})


async def _stock_first(request: web.Request, key: ApiKey, tenant_id: uuid.UUID,
                       body: SettingsBody, version: int) -> int:
    """Change the tenant's `in_stock_first` when the body gives another value; the version
    after."""
    if body.in_stock_first is None:
        return version
    pool = request.app[RESOURCES].pool
    before = (await show_tenant(pool, str(tenant_id))).in_stock_first
    if before == body.in_stock_first:
        return version
    await change_tenant(CoreWrite(pool), str(tenant_id), TenantUpdate(
        settings=TenantSettings(in_stock_first=body.in_stock_first)))
    return await store.record(pool, tenant_id, _actor(key), {"in_stock_first": before},
                              {"in_stock_first": body.in_stock_first})


@routes.get("/v1/admin/settings")
async def get_settings(request: web.Request) -> web.Response:
    _, tenant_id = await _tenant(request)
    found = await store.load(request.app[RESOURCES].pool, tenant_id)
    return await _settings_answer(request, tenant_id, found.version, found.settings)


@routes.put("/v1/admin/settings")
async def put_settings(request: web.Request) -> web.Response:
    key, tenant_id = await _tenant(request)
    try:
        body = SettingsBody.model_validate(await _body(request))
    except ValidationError as exc:
        raise from_validation(exc) from None
    settings = SearchSettings.model_validate(body.model_dump(exclude={"in_stock_first"}))
    version = await store.replace_settings(request.app[RESOURCES].pool, tenant_id, settings,
                                           _actor(key))
    version = await _stock_first(request, key, tenant_id, body, version)
    _changed(request, tenant_id)
    return await _settings_answer(request, tenant_id, version, settings)


@routes.patch("/v1/admin/settings")
async def patch_settings(request: web.Request) -> web.Response:
    key, tenant_id = await _tenant(request)
    raw = await _body(request)
    try:
        body = SettingsBody.model_validate(raw)  # names a bad field before anything changes
        patch = {k: v for k, v in raw.items() if k != "in_stock_first"}
        version, settings = (await store.patch_settings(
            request.app[RESOURCES].pool, tenant_id, patch, _actor(key))) if patch else \
            await _current(request, tenant_id)
    except ValidationError as exc:
        raise from_validation(exc) from None
    version = await _stock_first(request, key, tenant_id, body, version)
    _changed(request, tenant_id)
    return await _settings_answer(request, tenant_id, version, settings)


async def _current(request: web.Request, tenant_id: uuid.UUID) -> tuple[int, SearchSettings]:
    found = await store.load(request.app[RESOURCES].pool, tenant_id)
    return found.version, found.settings


@routes.get("/v1/admin/settings/audit")
async def settings_audit(request: web.Request) -> web.Response:
    _, tenant_id = await _tenant(request)
    limit = parse_int(request.query.get("limit", "50"), "limit", 1, store.MAX_AUDIT_PAGE)
    return web.json_response(
        {"changes": await store.audit(request.app[RESOURCES].pool, tenant_id, limit)})


def _synonyms_answer(version: int, settings: SearchSettings) -> web.Response:
    return web.json_response({"version": version,
                              **settings.synonyms.model_dump(mode="json", by_alias=True)})


@routes.get("/v1/admin/synonyms")
async def get_synonyms(request: web.Request) -> web.Response:
    _, tenant_id = await _tenant(request)
    found = await store.load(request.app[RESOURCES].pool, tenant_id)
    return _synonyms_answer(found.version, found.settings)


async def _write_synonyms(request: web.Request, append: bool) -> web.Response:
    key, tenant_id = await _tenant(request)
    body = await _body(request)
    try:
        given = Synonyms.model_validate(body)
    except ValidationError as exc:
        raise from_validation(exc) from None
    pool = request.app[RESOURCES].pool
    if append:
        current = (await store.load(pool, tenant_id)).settings.synonyms
        merged = {"groups": [g.model_dump(mode="json") for g in
                             (*current.groups, *given.groups)],
                  "one_way": [r.model_dump(mode="json", by_alias=True) for r in
                              (*current.one_way, *given.one_way)]}
    else:
        merged = given.model_dump(mode="json", by_alias=True)
    try:
        version, settings = await store.patch_settings(pool, tenant_id, {"synonyms": merged},
                                                       _actor(key))
    except ValidationError as exc:
        raise from_validation(exc) from None
    _changed(request, tenant_id)
    return _synonyms_answer(version, settings)


@routes.put("/v1/admin/synonyms")
async def put_synonyms(request: web.Request) -> web.Response:
    """Replace every synonym of the tenant."""
    return await _write_synonyms(request, append=False)


@routes.post("/v1/admin/synonyms")
async def add_synonyms(request: web.Request) -> web.Response:
    """Add groups and one-way rules to the tenant's synonyms."""
    return await _write_synonyms(request, append=True)


@routes.delete("/v1/admin/synonyms")
async def delete_synonyms(request: web.Request) -> web.Response:
    key, tenant_id = await _tenant(request)
    version, settings = await store.patch_settings(
        request.app[RESOURCES].pool, tenant_id, {"synonyms": {"groups": [], "one_way": []}},
        _actor(key))
    _changed(request, tenant_id)
    return _synonyms_answer(version, settings)


def _rule_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["rule"])
    except ValueError:
        raise field_error("rule", "not a rule id (UUID)") from None


def _spec(body: dict[str, Any]) -> RuleSpec:
    try:
        return RuleSpec.model_validate(body)
    except ValidationError as exc:
        raise from_validation(exc) from None


@routes.get("/v1/admin/rules")
async def list_rules(request: web.Request) -> web.Response:
    _, tenant_id = await _tenant(request)
    found = await store.load(request.app[RESOURCES].pool, tenant_id)
    return web.json_response({"version": found.version,
                              "rules": [store.rule_json(r) for r in found.rules]})


@routes.post("/v1/admin/rules")
async def create_rule(request: web.Request) -> web.Response:
    key, tenant_id = await _tenant(request)
    spec = _spec(await _body(request))
    version, rule = await store.create_rule(request.app[RESOURCES].pool, tenant_id, spec,
                                            _actor(key))
    _changed(request, tenant_id)
    return web.json_response({"version": version, "rule": store.rule_json(rule)}, status=201,
                             headers={"Location": f"/v1/admin/rules/{rule.id}"})


@routes.get("/v1/admin/rules/{rule}")
async def get_rule(request: web.Request) -> web.Response:
    _, tenant_id = await _tenant(request)
    rule = await store.get_rule(request.app[RESOURCES].pool, tenant_id, _rule_id(request))
    return web.json_response({"rule": store.rule_json(rule)})


@routes.put("/v1/admin/rules/{rule}")
async def replace_rule(request: web.Request) -> web.Response:
    key, tenant_id = await _tenant(request)
    rule_id = _rule_id(request)
    spec = _spec(await _body(request))
    version, rule = await store.replace_rule(request.app[RESOURCES].pool, tenant_id, rule_id,
                                             spec, _actor(key))
    _changed(request, tenant_id)
    return web.json_response({"version": version, "rule": store.rule_json(rule)})


@routes.delete("/v1/admin/rules/{rule}")
async def delete_rule(request: web.Request) -> web.Response:
    key, tenant_id = await _tenant(request)
    version = await store.delete_rule(request.app[RESOURCES].pool, tenant_id,
                                      _rule_id(request), _actor(key))
    _changed(request, tenant_id)
    return web.json_response({"version": version, "deleted": True})
