-- The indexes an external engine (Meilisearch) holds for each tenant and document type, with
-- the document shape they were built with: the follower rebuilds (behind an index swap) any
-- tenant whose index is missing or older than the code's shape.
CREATE TABLE engine_indexes (
    engine      TEXT NOT NULL,
    uid         TEXT NOT NULL,
    tenant_id   UUID NOT NULL,
    doc_type    TEXT NOT NULL CHECK (doc_type IN ('product', 'content')),
    shape       INTEGER NOT NULL,
    built_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (engine, uid)
);
