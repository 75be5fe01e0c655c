-- Bulk imports (POST /v1/admin/import, `rustok-search import`): one row per import job with
-- its progress, committed in the same transaction as each chunk of lines it wrote, so after a
-- kill `lines_done`/`bytes_done` say exactly where a re-run of the same input continues
-- (`prefix_sha256`, the SHA-256 of the first `bytes_done` bytes, proves it is the same
-- input). A running job's runner holds a session advisory lock on the job id; a `running`
-- row whose lock is free lost its runner and reads as `interrupted`. No document reads these
-- tables: they have no capture triggers.
CREATE TABLE import_jobs (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    state           VARCHAR(16) NOT NULL DEFAULT 'running'
                    CHECK (state IN ('running', 'succeeded', 'failed')),
    requested_by    TEXT NOT NULL,
    source          TEXT NOT NULL DEFAULT '',
    source_sha256   TEXT,
    total_bytes     BIGINT,
    lines_done      BIGINT NOT NULL DEFAULT 0,
    bytes_done      BIGINT NOT NULL DEFAULT 0,
    prefix_sha256   TEXT NOT NULL
                    DEFAULT 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    written         BIGINT NOT NULL DEFAULT 0,
    failed          BIGINT NOT NULL DEFAULT 0,
    rate            DOUBLE PRECISION NOT NULL DEFAULT 0,
    consistency_token BIGINT,       -- the highest outbox seq its chunks wrote (min_token)
    error           TEXT,
    started_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at     TIMESTAMPTZ
);
CREATE INDEX idx_import_jobs_tenant ON import_jobs (tenant_id, started_at DESC);

-- The lines an import refused, with the field path and the reason (at most 10 000 per job;
-- `import_jobs.failed` counts them all).
CREATE TABLE import_errors (
    import_id       UUID NOT NULL REFERENCES import_jobs(id) ON DELETE CASCADE,
    tenant_id       UUID NOT NULL,
    line            BIGINT NOT NULL,
    field           TEXT NOT NULL,
    reason          TEXT NOT NULL,
    PRIMARY KEY (import_id, line)
);
