"""Small builders for test data: each takes overrides and writes through core_write."""

from __future__ import annotations

import uuid
from typing import Any

from core_write.services import tenants
from core_write.unit import CoreWrite


async def make_tenant(core: CoreWrite, **overrides: Any) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    data: dict[str, Any] = {"name": f"Shop {suffix}", "slug": f"shop-{suffix}"}
    data.update(overrides)
    return (await core.call(tenants.create_tenant, data)).value
