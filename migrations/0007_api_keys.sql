-- API keys of the search API. Only a SHA-256 hash of each key is stored; the key itself is
-- shown once when it is created. Search and admin keys belong to one tenant; operator keys
-- (reindex any tenant, dead-letter list and replay) belong to none.
CREATE TABLE api_keys (
    id              UUID PRIMARY KEY,
    tenant_id       UUID REFERENCES tenants(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('search', 'admin', 'operator')),
    key_hash        BYTEA NOT NULL UNIQUE,
    key_prefix      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at      TIMESTAMPTZ,
    CHECK ((role = 'operator') = (tenant_id IS NULL))
);
CREATE INDEX idx_api_keys_tenant ON api_keys (tenant_id);
