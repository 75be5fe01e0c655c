"""The deployment files hold together: compose files reference only services, volumes and
settings that exist; the scrape targets are the ports the processes listen on; alert rules and
dashboard panels name only metrics the code defines (tests/integration/test_deploy_metrics.py
checks the same names against the live processes' /metrics)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY, generate_latest

import indexer.metrics  # noqa: F401 - registers the indexer's and relay's metrics
from core_write.settings import Settings
from rustok_search.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE_FILES = ["docker-compose.yml", "docker-compose.scale.yml"]
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
"""Series Prometheus writes itself for every target: no process exports them."""
SCRAPE_JOBS = {"rustok-relay": ("relay", "RELAY_METRICS_PORT"),
               "rustok-indexer": ("indexer", "INDEXER_METRICS_PORT"),
               "rustok-api": ("api", "API_PORT")}
"""Prometheus job → (the `rustok-search` command it scrapes, the variable of its port)."""

Selector = tuple[str, str | None]
"""A metric name and the scrape job a `job="..."` matcher restricts it to (None: any)."""

# ---- PromQL: which metric names an expression reads ----------------------------------------
_TOKEN = re.compile(r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<matchers>\{(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^}"'])*\})
  | (?P<range>\[[^\]]*\])
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[a-zA-Z]*)
  | (?P<variable>\$\{?\w+\}?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<other>\S)
""", re.VERBOSE)
_NAME_MATCHER = re.compile(r"""__name__\s*=\s*["'`]([a-zA-Z_:][a-zA-Z0-9_:]*)["'`]""")
_JOB_MATCHER = re.compile(r"""(?<![\w.])job\s*=\s*["'`]([^"'`]*)["'`]""")
_LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
"""Followed by a parenthesized list of label names, not metrics."""
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}


def promql_selectors(expr: str) -> set[Selector]:
    """The metrics a PromQL expression selects: identifiers that are not functions or
    aggregations (followed by `(`, `by` or `without`), keywords, label lists of by, without,
    on, ignoring and group_*, label names or values inside `{...}`, durations, numbers or
    Grafana `$variables`; plus names given as `{__name__="..."}`. Each with the job its
    `job="..."` matcher names, if any."""
    tokens = [(m.lastgroup or "", m.group()) for m in _TOKEN.finditer(expr)]
    selectors: set[Selector] = set()
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if kind == "matchers":
            job = _JOB_MATCHER.search(text)
            selectors |= {(name, job[1] if job else None)
                          for name in _NAME_MATCHER.findall(text)}
        elif kind == "ident" and text.lower() in _LABEL_LIST_KEYWORDS and following == "(":
            depth, i = 0, i + 1
            while i < len(tokens):  # skip to the matching ')'
                depth += {"(": 1, ")": -1}.get(tokens[i][1], 0)
                if depth == 0:
                    break
                i += 1
        elif kind == "ident" and following.lower() not in ("(", "by", "without") \
                and text.lower() not in _KEYWORDS | _LABEL_LIST_KEYWORDS:
            job = _JOB_MATCHER.search(following) if following.startswith("{") else None
            selectors.add((text, job[1] if job else None))
        i += 1
    return selectors


def promql_metric_names(expr: str) -> set[str]:
    return {name for name, _ in promql_selectors(expr)}


# ---- what the deploy files query ---------------------------------------------------------------
def alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])  # collapsed rows hold their panels


def dashboard_panels() -> Iterator[tuple[str, dict[str, Any]]]:
    """(dashboard file, panel) for every panel of every provisioned dashboard."""
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        for panel in _panels(json.loads(path.read_text())["panels"]):
            if panel.get("type") != "row":
                yield path.name, panel


def queried_metrics() -> dict[str, set[Selector]]:
    """Where metrics are read (`alert RustokX`, `rustok-search.json: panel title`) → what."""
    where: dict[str, set[Selector]] = {}
    for rule in alert_rules():
        where[f"alert {rule['alert']}"] = promql_selectors(rule["expr"])
    for file, panel in dashboard_panels():
        where[f"{file}: panel {panel['title']}"] = set().union(
            *(promql_selectors(t.get("expr", "")) for t in panel.get("targets") or []))
    return where


def unexported(exported: dict[str, set[str]]) -> dict[str, set[str]]:
    """Where a query reads a metric that Prometheus does not write itself and that the job
    it names (any job if none) does not export; `exported` maps each scrape job to names."""
    everywhere = set().union(*exported.values())
    missing = {where: {name + (f'{{job="{job}"}}' if job else "") for name, job in selectors
                       if name not in PROMETHEUS_SERIES
                       and name not in (exported.get(job, set()) if job else everywhere)}
               for where, selectors in queried_metrics().items()}
    return {where: names for where, names in missing.items() if names}


# ---- what the code exports -----------------------------------------------------------------------
def sample_names(text: str) -> set[str]:
    """The series names of the samples in a Prometheus text exposition."""
    return {re.split(r"[{\s]", line, maxsplit=1)[0] for line in text.splitlines()
            if line and not line.startswith("#")}


def exposition_names(text: str) -> set[str]:
    """Every series name a Prometheus text exposition can carry: sample names, plus what each
    `# TYPE` line promises (a labelled metric shows only its TYPE line until its first child
    exists): counters with `_total`, histograms and summaries with `_bucket`/`_sum`/`_count`."""
    names = sample_names(text)
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            if kind == "counter":
                base = name.removesuffix("_total")
                names |= {base + "_total", base + "_created"}
            elif kind in ("histogram", "summary", "gaugehistogram"):
                names |= {name + s for s in ("_bucket", "_count", "_sum", "_created")}
                if kind == "summary":
                    names.add(name)
            else:
                names.add(name)
    return names


def code_metrics() -> dict[str, set[str]]:
    """What each scrape job would find, from the metric definitions in the code: the relay
    and the indexer serve the default registry (prometheus_client's HTTP server), the API its
    own."""
    from search_api.metrics import REGISTRY as API_REGISTRY

    daemons = exposition_names(generate_latest(REGISTRY).decode())
    return {"rustok-relay": daemons, "rustok-indexer": daemons,
            "rustok-api": exposition_names(generate_latest(API_REGISTRY).decode())}


def settings_aliases() -> set[str]:
    return {field.alias for field in Settings.model_fields.values() if field.alias}


def compose(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text())
    return loaded


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_references_exist(name: str) -> None:
    services = compose(name)["services"]
    volumes = set(compose(name).get("volumes") or {})
    known_env = settings_aliases()
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
            build_parser().parse_args(service["command"])  # exits 2 on an unknown command
    assert "postgres" in services and "redis" in services


def test_scrape_targets_are_the_ports_the_processes_listen_on() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    env = compose("docker-compose.scale.yml")["services"]["relay"]["environment"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(SCRAPE_JOBS)
    for job_name, (_, variable) in SCRAPE_JOBS.items():
        job = jobs[job_name]
        ports = {int(target.rsplit(":", 1)[1]) for static in job.get("static_configs") or []
                 for target in static["targets"]}
        ports |= {sd["port"] for sd in job.get("dns_sd_configs") or []}
        assert ports == {int(env[variable])}, f"{job_name} scrapes {ports}, not ${variable}"


def test_every_alert_has_a_runbook_line_and_a_row_in_the_operations_guide() -> None:
    guide = (DEPLOY.parent / "docs" / "operations.md").read_text()
    alerts = alert_rules()
    assert len(alerts) >= 8
    for rule in alerts:
        assert rule["annotations"].get("runbook"), f"{rule['alert']} has no runbook line"
        assert rule["annotations"].get("summary"), f"{rule['alert']} has no summary"
        assert f"| {rule['alert']} |" in guide, f"docs/operations.md omits {rule['alert']}"


def test_alerts_and_panels_name_metrics_the_code_defines() -> None:
    queried = queried_metrics()
    assert sum(where.startswith("alert ") for where in queried) >= 8
    assert sum(not where.startswith("alert ") for where in queried) >= 8
    for where, selectors in queried.items():
        assert selectors, f"{where} queries no metric"
        jobs = {job for _, job in selectors if job} - set(SCRAPE_JOBS)
        assert not jobs, f"{where} selects jobs Prometheus does not scrape: {jobs}"
    assert unexported(code_metrics()) == {}


def test_the_names_check_can_fail() -> None:
    exported = code_metrics()
    assert "rustok_relay_events_published_total" in exported["rustok-relay"]
    assert "rustok_relay_events_published_total" not in exported["rustok-api"]
    # a histogram is queried through its series, never by the bare family name
    assert "rustok_index_lag_seconds_bucket" in exported["rustok-indexer"]
    assert "rustok_index_lag_seconds" not in exported["rustok-indexer"]
    # a gauge that only the relay sets must come from the relay, not the indexer's zero
    assert "alert RustokOutboxBacklog" in unexported(dict(exported, **{"rustok-relay": set()}))
    assert promql_selectors('rate(x_total{job="rustok-api"}[5m]) / y{job=~"a"}') \
        == {("x_total", "rustok-api"), ("y", None)}


@pytest.mark.parametrize(("expr", "names"), [
    ("histogram_quantile(0.99, sum by (le, backend) (rate(a_bucket[5m]))) > 5", {"a_bucket"}),
    ('sum(rate(a_count{status=~"5.."}[5m])) / clamp_min(sum(rate(a_count[5m])), 1e-9) > 0.01',
     {"a_count"}),
    ("a > 1000 and deriv(a[10m]) > 0", {"a"}),
    ('up{job=~"rustok-.*"} == 0', {"up"}),
    ("sum without (instance) (a) offset 5m", {"a"}),
    ("sum(a) by (le) / ignoring(code) group_left(version) b", {"a", "b"}),
    ('{__name__="a", route="/v1/search/{kind}"}', {"a"}),
    ("rate(a[$__rate_interval]) * $scale", {"a"}),
    ('label_replace(a, "dst", "$1", "src", "(.*)") or vector(0)', {"a"}),
    ('count_values("version", a) unless on (job) b @ end()', {"a", "b"}),
    ("max_over_time(deriv(rate(a:ratio_1m[1m])[5m:30s])[1h:]) > bool 0x1f", {"a:ratio_1m"}),
    ("vector(1) + 2", set()),
])
def test_promql_metric_names(expr: str, names: set[str]) -> None:
    assert promql_metric_names(expr) == names


def test_exposition_names_expands_type_lines() -> None:
    text = "\n".join([
        "# HELP c_total events", "# TYPE c_total counter",
        "# TYPE h histogram", "# TYPE g gauge", 'g{x="1"} 3.0',
        "# TYPE o counter",  # OpenMetrics spelling: the family without _total
    ])
    names = exposition_names(text)
    assert {"c_total", "h_bucket", "h_sum", "h_count", "g", "o_total"} <= names
    assert not {"h", "c", "o", "c_total_total"} & names
