"""The JSON log lines of every entry point (no I/O)."""

from __future__ import annotations

import io
import json
import logging
import uuid

from rustok_search.logs import json_formatter


def test_a_log_line_is_one_json_object_with_the_extra_fields() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(json_formatter())
    log = logging.getLogger("tests.logs")
    log.handlers[:] = [handler]
    log.propagate = False
    tenant = uuid.uuid4()
    log.warning("batch of %d", 3, extra={"action": "apply", "tenant": tenant})
    try:
        raise ValueError("bad row")
    except ValueError:
        log.exception("failed")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["msg"] == "batch of 3" and first["level"] == "WARNING"
    assert first["logger"] == "tests.logs" and first["action"] == "apply"
    assert first["tenant"] == str(tenant) and first["ts"].endswith("+00:00")
    assert "ValueError: bad row" in second["exc"] and second["level"] == "ERROR"
