"""Operator handlers for tenants and API keys: create, list and show tenants; create, list,
revoke and rotate keys (operator keys only) (I/O: PostgreSQL through `accounts`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic import Field as PydanticField

from core_write.services.tenants import TenantCreate
from core_write.unit import CoreWrite
from search_api import accounts
from search_api.auth import require_role
from search_api.errors import field_error, from_validation
from search_api.routes_search import read_json
from search_api.wiring import RESOURCES

routes = web.RouteTableDef()


class KeyRotate(BaseModel):
    """Optionally a new expiry for the replacement key (else the old key's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    expires_in: str | None = PydanticField(default=None, max_length=20)


def _body(model: type[Any], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from None


def _key_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["key"])
    except ValueError:
        raise field_error("key", "not a key id (UUID)") from None


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise field_error(name, "must be true or false")
    return value in ("true", "1")


@routes.get("/v1/admin/tenants")
async def tenants_list(request: web.Request) -> web.Response:
    require_role(request, "operator")
    found = await accounts.list_tenants(request.app[RESOURCES].pool)
    return web.json_response({"tenants": [t.model_dump(mode="json") for t in found]})


@routes.post("/v1/admin/tenants")
async def tenants_create(request: web.Request) -> web.Response:
    require_role(request, "operator")
    spec = _body(TenantCreate, await read_json(request))
    core = CoreWrite(request.app[RESOURCES].pool)
    tenant, token = await accounts.add_tenant(core, spec)
    return web.json_response({"tenant": tenant.model_dump(mode="json"),
                              "consistency_token": token}, status=201,
                             headers={"Location": f"/v1/admin/tenants/{tenant.slug}"})


@routes.get("/v1/admin/tenants/{tenant}")
async def tenants_show(request: web.Request) -> web.Response:
    require_role(request, "operator")
    tenant = await accounts.show_tenant(request.app[RESOURCES].pool,
                                        request.match_info["tenant"])
    return web.json_response({"tenant": tenant.model_dump(mode="json")})


@routes.get("/v1/admin/keys")
async def keys_list(request: web.Request) -> web.Response:
    require_role(request, "operator")
    tenant = request.query.get("tenant") or None
    found = await accounts.list_keys(request.app[RESOURCES].pool, tenant,
                                     _flag(request, "all"))
    return web.json_response({"keys": [accounts.key_json(k) for k in found]})


@routes.post("/v1/admin/keys")
async def keys_create(request: web.Request) -> web.Response:
    require_role(request, "operator")
    spec = _body(accounts.KeyCreate, await read_json(request))
    new = await accounts.issue_key(request.app[RESOURCES].pool, spec)
    return web.json_response({"key": new.key, "info": accounts.key_json(new.info)},
                             status=201)


@routes.post("/v1/admin/keys/{key}/revoke")
async def keys_revoke(request: web.Request) -> web.Response:
    require_role(request, "operator")
    info = await accounts.revoke_key(request.app[RESOURCES].pool, _key_id(request))
    return web.json_response({"info": accounts.key_json(info)})


@routes.post("/v1/admin/keys/{key}/rotate")
async def keys_rotate(request: web.Request) -> web.Response:
    require_role(request, "operator")
    key_id = _key_id(request)
    raw = await request.read()
    spec = _body(KeyRotate, await read_json(request) if raw.strip() else {})
    expires_at = None
    if spec.expires_in is not None:
        try:
            expires_at = datetime.now(UTC) + accounts.parse_duration(spec.expires_in)
        except ValueError as exc:
            raise field_error("expires_in", str(exc)) from None
    new = await accounts.rotate_key(request.app[RESOURCES].pool, key_id, expires_at)
    return web.json_response({"key": new.key, "info": accounts.key_json(new.info)},
                             status=201)
