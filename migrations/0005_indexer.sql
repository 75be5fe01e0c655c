-- Indexer state: the per-engine change queue that engine followers drain in order, reindex
-- jobs with their progress, and status value checks the services already enforce.

-- One row per (engine, document) waiting to be applied: re-queuing a document that is still
-- waiting only moves it to the back with a new seq, so a burst of changes to one document is
-- applied once. A follower deletes the rows it applied only if their seq is unchanged.
CREATE SEQUENCE engine_queue_seq;
CREATE TABLE engine_queue (
    engine          TEXT NOT NULL,
    doc_type        TEXT NOT NULL CHECK (doc_type IN ('product', 'content')),
    doc_id          UUID NOT NULL,
    tenant_id       UUID NOT NULL,
    seq             BIGINT NOT NULL DEFAULT nextval('engine_queue_seq'),
    event_time      TIMESTAMPTZ,            -- oldest event behind this change (lag metric)
    queued_at       TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (engine, doc_type, doc_id)
);
CREATE INDEX idx_engine_queue_order ON engine_queue (engine, seq);

CREATE TABLE index_jobs (
    id              UUID PRIMARY KEY,
    kind            TEXT NOT NULL DEFAULT 'reindex',
    tenant_id       UUID,
    doc_type        TEXT CHECK (doc_type IN ('product', 'content')),
    doc_id          UUID,
    state           TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    total           BIGINT NOT NULL DEFAULT 0,
    done            BIGINT NOT NULL DEFAULT 0,
    errors          BIGINT NOT NULL DEFAULT 0,
    rate            DOUBLE PRECISION NOT NULL DEFAULT 0,
    error           TEXT,
    requested_by    TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_index_jobs_state ON index_jobs (state, created_at);

ALTER TABLE nodes ADD CONSTRAINT nodes_kind_check CHECK (kind IN ('page', 'post', 'comment'));
ALTER TABLE nodes ADD CONSTRAINT nodes_status_check
    CHECK (status IN ('draft', 'published', 'archived'));
ALTER TABLE commerce_products ADD CONSTRAINT commerce_products_status_check
    CHECK (status IN ('draft', 'proposed', 'published', 'rejected'));
ALTER TABLE commerce_orders ADD CONSTRAINT commerce_orders_status_check
    CHECK (status IN ('pending', 'processing', 'shipped', 'completed', 'cancelled'));
