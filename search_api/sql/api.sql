-- name: key_create --
-- Store a new API key's hash. $1 id, $2 tenant id (NULL for operator), $3 role, $4 hash,
-- $5 prefix, $6 expiry (NULL: never), $7 label, $8 the key it replaces (NULL)
INSERT INTO api_keys (id, tenant_id, role, key_hash, key_prefix, expires_at, label,
                      rotated_from)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id, tenant_id, role, created_at

-- name: key_lookup --
-- The live (not revoked, not expired) key with this hash, with the search settings of its
-- tenant. $1 SHA-256 of the presented key
SELECT k.id, k.tenant_id, k.role, k.expires_at,
       COALESCE((t.settings->>'in_stock_first')::boolean, true) AS in_stock_first
FROM api_keys k LEFT JOIN tenants t ON t.id = k.tenant_id
WHERE k.key_hash = $1 AND k.revoked_at IS NULL
  AND (k.expires_at IS NULL OR k.expires_at > now())

-- name: key_touch --
-- Record that key $1 was used, unless that was recorded less than a minute ago (so a busy
-- key costs one row write a minute, whatever the request rate)
UPDATE api_keys SET last_used_at = now()
WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')

-- name: key_list --
-- Keys, newest first, without their hashes. $1 tenant id (NULL: every key), $2 include
-- revoked and expired keys
SELECT k.id, k.tenant_id, t.slug AS tenant, k.role, k.key_prefix, k.label, k.created_at,
       k.expires_at, k.last_used_at, k.revoked_at, k.rotated_from
FROM api_keys k LEFT JOIN tenants t ON t.id = k.tenant_id
WHERE ($1::uuid IS NULL OR k.tenant_id = $1)
  AND ($2 OR (k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())))
ORDER BY k.created_at DESC, k.id

-- name: key_get --
-- One key without its hash. $1 key id
SELECT k.id, k.tenant_id, t.slug AS tenant, k.role, k.key_prefix, k.label, k.created_at,
       k.expires_at, k.last_used_at, k.revoked_at, k.rotated_from
FROM api_keys k LEFT JOIN tenants t ON t.id = k.tenant_id WHERE k.id = $1

-- name: key_revoke --
-- Revoke key $1 (idempotent: a revoked key keeps its first revocation time)
UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING id

-- name: tenant_list --
-- Tenants by slug with their language, search settings and enabled modules. $1 one tenant
-- (slug or id; NULL: every tenant)
SELECT t.id, t.slug, t.name, COALESCE(t.settings->>'language', 'simple') AS language,
       COALESCE((t.settings->>'in_stock_first')::boolean, true) AS in_stock_first,
       t.created_at,
       COALESCE(array_agg(m.module_slug ORDER BY m.module_slug)
                FILTER (WHERE m.enabled), '{}') AS modules
FROM tenants t LEFT JOIN tenant_modules m ON m.tenant_id = t.id
WHERE $1::text IS NULL OR t.slug = $1 OR t.id::text = $1
GROUP BY t.id ORDER BY t.slug

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

-- name: product_category_labels --
-- Names of commerce category ids, by primary key in their own table: the index tables hold
-- a name only inside every document of its category, and reading it there took a GIN scan
-- of the category's documents (10 ms for 14 categories at 7k products), the key lookups
-- take well under one. $1 tenant, $2 ids (text[]; values that are not ids are left out)
SELECT id::text AS value, name AS label, handle FROM commerce_categories
WHERE tenant_id = $1 AND id = ANY(ARRAY(SELECT v::uuid FROM unnest($2::text[]) AS v
                                        WHERE v ~ '^[0-9a-f-]{36}$'))

-- name: content_category_labels --
-- Names of content category ids (as product_category_labels). $1 tenant, $2 ids (text[])
SELECT id::text AS value, name AS label, slug AS handle FROM categories
WHERE tenant_id = $1 AND id = ANY(ARRAY(SELECT v::uuid FROM unnest($2::text[]) AS v
                                        WHERE v ~ '^[0-9a-f-]{36}$'))

-- name: author_labels --
-- Display names of author ids, as content documents name them (display name, else email).
-- $1 tenant, $2 ids (text[])
SELECT id::text AS value, COALESCE(display_name, email) AS label, NULL::text AS handle
FROM users
WHERE tenant_id = $1 AND id = ANY(ARRAY(SELECT v::uuid FROM unnest($2::text[]) AS v
                                        WHERE v ~ '^[0-9a-f-]{36}$'))
