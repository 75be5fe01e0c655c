"""The deployment files hold together: compose files reference only services, volumes and
settings that exist; alert rules and dashboard panels name only metrics the code exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY, CollectorRegistry

import indexer.metrics  # noqa: F401 - registers the indexer's and relay's metrics
from core_write.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE_FILES = ["docker-compose.yml", "docker-compose.scale.yml"]
EXTERNAL_ENV = {"MEILISEARCH_URL", "MEILISEARCH_API_KEY"}  # read by the Meilisearch backend


def exported_names(*registries: CollectorRegistry) -> set[str]:
    """Every sample name the registries can export (counters with _total, histograms with
    _bucket/_count/_sum), from their definitions: a labelled metric exports nothing before
    its first observation, so scraping an idle process would miss it."""
    names: set[str] = set()
    for registry in registries:
        for family in registry.collect():
            if family.type == "counter":
                names |= {family.name + "_total", family.name + "_created"}
            elif family.type == "histogram":
                names |= {family.name + s for s in ("_bucket", "_count", "_sum", "_created")}
            else:
                names.add(family.name)
    return names


def code_metrics() -> set[str]:
    registries: list[CollectorRegistry] = [REGISTRY]
    try:
        from search_api.metrics import REGISTRY as API_REGISTRY
    except ImportError:  # pragma: no cover - the API is an optional part of an install
        pass
    else:
        registries.append(API_REGISTRY)
    return exported_names(*registries)


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(rustok_[a-z_]+)\b", expr))


def settings_aliases() -> set[str]:
    return {field.alias for field in Settings.model_fields.values() if field.alias}


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_references_exist(name: str) -> None:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text())
    services = compose["services"]
    volumes = set(compose.get("volumes") or {})
    known_env = settings_aliases() | EXTERNAL_ENV
    for service_name, service in services.items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, f"{service_name} depends on unknown {dependency}"
        for mount in service.get("volumes") or []:
            source = mount.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in volumes, f"{service_name} mounts undeclared volume {source}"
            else:
                assert (DEPLOY / source).exists(), f"{service_name} mounts missing {source}"
        if service.get("image", "").startswith("rustok-search"):
            env = service.get("environment") or {}
            unknown = set(env) - known_env
            assert not unknown, f"{service_name} sets unknown variables {sorted(unknown)}"
            assert service.get("command"), f"{service_name} names no rustok-search command"
    assert "postgres" in services and "redis" in services


def test_alert_rules_name_exported_metrics() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    exported = code_metrics()
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len(alerts) >= 8
    for rule in alerts:
        assert rule["annotations"].get("runbook"), f"{rule['alert']} has no runbook line"
        missing = metric_names(rule["expr"]) - exported
        assert not missing, f"{rule['alert']} names metrics nobody exports: {missing}"


def test_dashboard_panels_name_exported_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "rustok-search.json")
                           .read_text())
    exported = code_metrics()
    assert len(dashboard["panels"]) >= 8
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names, f"panel {panel['title']} queries no rustok metric"
            assert not names - exported, f"panel {panel['title']}: {names - exported}"


def test_the_names_test_can_fail() -> None:
    assert metric_names("rate(rustok_not_a_metric_total[5m])") - code_metrics()
