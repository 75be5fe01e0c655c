-- name: key_create --
-- Store a new API key's hash. $1 id, $2 tenant id (NULL for operator), $3 role, $4 hash, $5 prefix
INSERT INTO api_keys (id, tenant_id, role, key_hash, key_prefix) VALUES ($1, $2, $3, $4, $5)
RETURNING id, tenant_id, role, created_at

-- name: key_lookup --
-- The live key with this hash. $1 SHA-256 of the presented key
SELECT id, tenant_id, role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL

-- name: tenant_by_ref --
-- A tenant by slug or id text. $1 slug or id
SELECT id, slug FROM tenants WHERE slug = $1 OR id::text = $1

-- name: token_acked --
-- When the indexer acknowledged outbox position $1: a row with NULL while it has not, no row
-- once the outbox row was purged (which happens only after acknowledgement)
SELECT COALESCE(indexed_at, acked_at) AS acked_at FROM outbox WHERE seq = $1

-- name: outbox_tenant_lag --
-- Seconds since the oldest outbox row the indexer has not applied was written, per tenant with
-- such a row. The two branches match the partial indexes of unpublished and of unacknowledged
-- rows, so the cost follows the backlog, not the outbox's retention
SELECT tenant_id, EXTRACT(EPOCH FROM clock_timestamp() - min(created_at))::float8 AS lag FROM (
    SELECT tenant_id, created_at FROM outbox
    WHERE published_at IS NULL AND acked_at IS NULL AND indexed_at IS NULL
    UNION ALL
    SELECT tenant_id, created_at FROM outbox
    WHERE published_at IS NOT NULL AND acked_at IS NULL AND indexed_at IS NULL
) waiting GROUP BY tenant_id

-- name: jobs_by_state --
-- Reindex job counts by state (metrics)
SELECT state, count(*) AS n FROM index_jobs GROUP BY state

-- name: jobs_list --
-- Reindex jobs, newest first. $1 states (NULL: any), $2 tenant id (NULL: any), $3 limit
SELECT * FROM index_jobs
WHERE ($1::text[] IS NULL OR state = ANY($1::text[])) AND ($2::uuid IS NULL OR tenant_id = $2)
ORDER BY created_at DESC, id DESC LIMIT $3
