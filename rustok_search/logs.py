"""Logging set-up for entry points: one JSON object per line (python-json-logger), carrying
the `extra` fields (action, tenant, entity) that modules attach."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

FIELDS = {"levelname": "level", "name": "logger", "message": "msg", "exc_info": "exc"}


def json_formatter() -> logging.Formatter:
    """`{"level", "logger", "msg", <extra fields>, "exc", "ts"}`, `ts` in ISO 8601 UTC."""
    return JsonFormatter("{levelname}{name}{message}", style="{", rename_fields=FIELDS,
                         timestamp="ts")


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
