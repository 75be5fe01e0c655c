"""Prometheus metrics of the search API, in their own registry so they never mix with the
indexer's (pure: the app's middleware and /metrics handler fill and read them)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
REQUEST_SECONDS = Histogram(
    "rustok_api_request_seconds", "HTTP request latency",
    ["route", "method", "backend", "status"], registry=REGISTRY,
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
IN_FLIGHT = Gauge("rustok_api_requests_in_flight", "requests being served", registry=REGISTRY)
SEARCH_ERRORS = Counter("rustok_api_search_errors_total",
                        "searches that failed in the backend or timed out",
                        ["backend", "kind"], registry=REGISTRY)
STALE_ANSWERS = Counter("rustok_api_stale_answers_total",
                        "searches answered with stale: true (the tenant's index behind, or "
                        "min_token not indexed in time)",
                        ["backend"], registry=REGISTRY)
REINDEX_JOBS = Gauge("rustok_api_reindex_jobs", "reindex jobs by state", ["state"],
                     registry=REGISTRY)
JOB_STATES = ("queued", "running", "succeeded", "failed")


def route_label(request: web.Request) -> str:
    """The route template (`/v1/admin/reindex/{job}`), never the raw path (bounded labels)."""
    info = request.match_info
    if isinstance(info, web.UrlMappingMatchInfo) and info.route.resource is not None \
            and not info.http_exception:
        return info.route.resource.canonical
    return "unmatched"

MEILI_INSTANCE_UP = Gauge("rustok_api_meili_instance_up",
                          "1 when a Meilisearch instance answered the last health probe "
                          "(/readyz or a scrape), 0 when not", ["instance"], registry=REGISTRY)
MEILI_INSTANCE_TENANTS = Gauge("rustok_api_meili_instance_tenants",
                               "Tenants placed on each Meilisearch instance", ["instance"],
                               registry=REGISTRY)
FALLBACK_SEARCHES = Counter("rustok_api_meili_fallback_searches_total",
                            "Searches answered from PostgreSQL because the tenant's "
                            "Meilisearch instance was down (SEARCH_BACKEND_FALLBACK=postgres)",
                            ["instance"], registry=REGISTRY)
