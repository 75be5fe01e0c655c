-- Transactional outbox: each service call inserts its events here in its own transaction.
-- The relay publishes rows in seq order, records per row where it put them, and learns from
-- the consumer groups which rows were acknowledged (the durable truth if Redis loses its data).

CREATE TABLE outbox (
    seq             BIGSERIAL PRIMARY KEY,
    event_id        UUID NOT NULL UNIQUE,
    tenant_id       UUID NOT NULL,
    aggregate_type  VARCHAR(32) NOT NULL,
    aggregate_id    UUID NOT NULL,
    event_type      VARCHAR(64) NOT NULL,
    payload         JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    published_at    TIMESTAMPTZ,
    stream_ms       BIGINT,
    stream_seq      BIGINT,
    acked_at        TIMESTAMPTZ,
    CHECK ((stream_ms IS NULL) = (published_at IS NULL))
);
CREATE INDEX idx_outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX idx_outbox_unacked ON outbox (stream_ms, stream_seq)
    WHERE published_at IS NOT NULL AND acked_at IS NULL;
CREATE INDEX idx_outbox_acked ON outbox (acked_at) WHERE acked_at IS NOT NULL;

-- One row per stream: the epoch written to Redis with it. A missing or different epoch in
-- Redis means Redis lost its data and everything not yet acknowledged is published again.
CREATE TABLE relay_state (
    stream          TEXT PRIMARY KEY,
    epoch           UUID NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
