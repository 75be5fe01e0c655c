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

-- name: token_indexed --
-- Is outbox position $1 indexed for tenant $2 on engine $3 (NULL: the Postgres tables)? The
-- row is acknowledged by the indexer (or already purged after acknowledgement), and no engine
-- change of the tenant queued up to that acknowledgement is still waiting. $4 request start
WITH row AS (SELECT COALESCE(indexed_at, acked_at) AS acked_at FROM outbox WHERE seq = $1)
SELECT NOT EXISTS (SELECT 1 FROM row WHERE acked_at IS NULL)
   AND ($3::text IS NULL OR NOT EXISTS (
        SELECT 1 FROM engine_queue q
        WHERE q.engine = $3 AND q.tenant_id = $2
          AND COALESCE(q.event_time, q.queued_at)
              <= COALESCE((SELECT acked_at FROM row), $4::timestamptz)))
   AS indexed

-- name: index_lag --
-- Seconds behind: the oldest unacknowledged outbox row, and the oldest change waiting for
-- engine $1 (NULL: none). 0 when nothing waits
SELECT GREATEST(
    COALESCE(EXTRACT(EPOCH FROM clock_timestamp()
             - (SELECT min(created_at) FROM outbox
                WHERE acked_at IS NULL AND indexed_at IS NULL)), 0),
    COALESCE(EXTRACT(EPOCH FROM clock_timestamp()
             - (SELECT min(COALESCE(event_time, queued_at)) FROM engine_queue
                WHERE engine = $1)), 0))::float8 AS lag

-- name: jobs_by_state --
-- Reindex job counts by state (metrics)
SELECT state, count(*) AS n FROM index_jobs GROUP BY state
