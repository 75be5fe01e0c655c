-- Relevance controls per tenant (synonyms, stop words, field weights, typo switches, in-stock
-- first, default sort) and merchandising rules. Each change bumps the tenant's
-- `relevance_version` (API processes compare it to their cached copy) and leaves an audit
-- row saying who changed what and when, with the value before and after. Not captured:
-- these tables configure searches, they are not searchable documents. Rules and audit values
-- are JSON text, not jsonb: a banner is any JSON a client sends, and jsonb refuses some of it
-- (a \u0000 escape); they are only ever read whole.
CREATE TABLE search_settings (
    tenant_id  UUID PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    version    BIGINT NOT NULL DEFAULT 1,
    settings   JSONB NOT NULL DEFAULT '{}'::jsonb,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by TEXT NOT NULL DEFAULT ''
);

CREATE TABLE search_rules (
    id          UUID PRIMARY KEY,
    tenant_id   UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    position    INT NOT NULL DEFAULT 0,
    enabled     BOOLEAN NOT NULL DEFAULT true,
    rule        TEXT NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX search_rules_tenant ON search_rules (tenant_id, position, created_at, id);

CREATE TABLE search_relevance_audit (
    id         BIGSERIAL PRIMARY KEY,
    tenant_id  UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    version    BIGINT NOT NULL,
    subject    TEXT NOT NULL CHECK (subject IN ('settings', 'rule')),
    subject_id UUID,
    action     TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    actor      TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    before     TEXT,
    after      TEXT
);
CREATE INDEX search_relevance_audit_tenant ON search_relevance_audit (tenant_id, id DESC);
