-- name: body_upsert --
-- Create or replace a node's body and its vector in the tenant's text search configuration (a
-- name that is not one, settings written around the tenants service, falls back to 'simple'
-- instead of failing the write). $1 node id, $2 tenant id, $3 body, $4 format
INSERT INTO bodies (node_id, tenant_id, body, format, search_vector)
VALUES ($1, $2, $3, $4, to_tsvector(
    COALESCE((SELECT c.oid::regconfig FROM tenants t JOIN pg_ts_config c
               ON c.cfgname = t.settings->>'language' WHERE t.id = $2),
             'simple'::regconfig),
    $3))
ON CONFLICT (tenant_id, node_id) DO UPDATE
    SET body = EXCLUDED.body, format = EXCLUDED.format,
        search_vector = EXCLUDED.search_vector, updated_at = now()
RETURNING *

-- name: body_get --
-- A node's body. $1 tenant id, $2 node id
SELECT * FROM bodies WHERE tenant_id = $1 AND node_id = $2
