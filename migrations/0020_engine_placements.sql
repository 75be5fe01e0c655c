-- Which server of an external engine (Meilisearch, MEILISEARCH_INSTANCES) holds each tenant's
-- indexes. A tenant is placed once, when its first document is written (the least-loaded
-- instance: fewest tenants), and keeps its instance until an operator moves it
-- (`rustok-search engines move`): the move is requested here (state 'moving', target), run
-- by the elected follower, which reports its progress here, and ends with one UPDATE that
-- sets `instance` to the target. The follower and the API read this table (cached briefly,
-- and told of a change on Redis).
CREATE TABLE engine_placements (
    engine       TEXT NOT NULL,
    tenant_id    UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    instance     TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'placed' CHECK (state IN ('placed', 'moving')),
    target       TEXT,
    placed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    moved_at     TIMESTAMPTZ,
    move_requested_at TIMESTAMPTZ,
    move_done    BIGINT NOT NULL DEFAULT 0,
    move_total   BIGINT NOT NULL DEFAULT 0,
    move_error   TEXT,
    PRIMARY KEY (engine, tenant_id),
    CHECK ((state = 'moving') = (target IS NOT NULL)),
    CHECK (target IS DISTINCT FROM instance)
);

CREATE INDEX engine_placements_instance ON engine_placements (engine, instance);
