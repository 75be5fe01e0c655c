"""Prometheus metrics of the indexer daemon (definitions only; served by the entry point)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "rustok_indexer_events_total", "Stream events handled, by event type and outcome",
    ["type", "outcome"],  # outcome: indexed | ignored | duplicate | retried | dead_lettered
)
DOCUMENTS_WRITTEN = Counter(
    "rustok_indexer_documents_total", "Documents written to the Postgres index tables",
    ["doc_type", "op"],  # op: upsert | delete
)
TRUNCATED = Counter(
    "rustok_indexer_truncated_documents_total",
    "Document builds whose searchable text was cut at the documented bound",
    ["doc_type"],
)
DOCUMENT_FAILURES = Counter(
    "rustok_indexer_document_failures_total",
    "Documents PostgreSQL refused to build or write, isolated from their batch",
    ["doc_type"],
)
BATCH_SIZE = Histogram(
    "rustok_indexer_batch_size", "Events per processed batch",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
BATCH_SECONDS = Histogram(
    "rustok_indexer_batch_duration_seconds", "Time to resolve, build and write one batch",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LAG_SECONDS = Histogram(
    "rustok_index_lag_seconds", "Event time to commit in a backend",
    ["backend"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
GROUP_LAG = Gauge("rustok_indexer_group_lag", "Stream entries not yet delivered to the group")
GROUP_PENDING = Gauge("rustok_indexer_group_pending", "Entries delivered but not acknowledged")
DEAD_LETTERS = Gauge("rustok_indexer_dead_letters", "Entries in the dead-letter stream")
ENGINE_DEAD_LETTERS = Gauge("rustok_engine_dead_letters",
                            "Documents an external engine refused ({prefix}:engine-dlq)")
ENGINE_BACKLOG = Gauge("rustok_engine_queue_backlog", "Documents waiting for an engine",
                       ["backend"])
DOCUMENT_COUNT = Gauge("rustok_index_documents", "Documents per backend and type",
                       ["backend", "doc_type"])
REINDEX_PROGRESS = Gauge("rustok_reindex_progress_ratio", "Progress of running reindex jobs",
                         ["job_id"])  # not `job`: Prometheus' scrape job owns that label
REINDEX_JOBS = Counter("rustok_reindex_jobs_total", "Finished reindex jobs by state", ["state"])

# ---- the outbox relay ----------------------------------------------------------------------
RELAY_PUBLISHED = Counter("rustok_relay_events_published_total",
                          "Outbox rows published to the stream")
RELAY_RECOVERIES = Counter("rustok_relay_recoveries_total",
                           "Times Redis was found to have lost the stream and the relay "
                           "republished everything unacknowledged")
RELAY_ACKED = Counter("rustok_relay_events_acknowledged_total",
                      "Outbox rows the consumer groups acknowledged")
OUTBOX_BACKLOG = Gauge("rustok_outbox_backlog", "Outbox rows not yet published")
OUTBOX_OLDEST_AGE = Gauge("rustok_outbox_oldest_unpublished_seconds",
                          "Age of the oldest unpublished outbox row")

# ---- the Meilisearch engine ----------------------------------------------------------------
MEILI_TASK_SECONDS = Histogram(
    "rustok_meili_task_seconds", "Meilisearch task latency, enqueue to done, by task kind",
    ["kind"],  # kind: documents | delete | settings | swap | delete_index
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
MEILI_FAILED_TASKS = Counter("rustok_meili_failed_tasks_total",
                             "Meilisearch tasks that ended failed, by task kind", ["kind"])
MEILI_DEAD_LETTERS = Counter("rustok_meili_dead_lettered_total",
                             "Documents given up on after repeated Meilisearch task failures")
MEILI_DOCUMENTS = Gauge("rustok_meili_index_documents", "Documents per Meilisearch index",
                        ["index"])
MEILI_INSTANCE_UP = Gauge("rustok_meili_instance_up",
                          "1 while the follower reaches a Meilisearch instance, 0 while it is "
                          "down (its tenants' changes wait in the queue)", ["instance"])
MEILI_INSTANCE_TENANTS = Gauge("rustok_meili_instance_tenants",
                               "Tenants placed on each Meilisearch instance", ["instance"])
MEILI_INSTANCE_DOCUMENTS = Gauge("rustok_meili_instance_documents",
                                 "Documents in this deployment's indexes on each Meilisearch "
                                 "instance", ["instance"])
