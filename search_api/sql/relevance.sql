-- name: relevance_settings --
-- A tenant's relevance settings and version (no row: defaults, version 0). $1 tenant id
SELECT version, settings, updated_at, updated_by FROM search_settings WHERE tenant_id = $1

-- name: relevance_rules --
-- A tenant's rules in evaluation order. $1 tenant id
SELECT id, position, enabled, rule, version, created_at, updated_at
FROM search_rules WHERE tenant_id = $1 ORDER BY position, created_at, id

-- name: relevance_lock --
-- Lock the tenant's settings row (made if missing) for one change, and return the version
-- the change gets. $1 tenant id, $2 actor
INSERT INTO search_settings AS s (tenant_id, version, updated_by) VALUES ($1, 1, $2)
ON CONFLICT (tenant_id) DO UPDATE
    SET version = s.version + 1, updated_at = now(), updated_by = $2
RETURNING version, settings

-- name: relevance_settings_write --
-- $1 tenant id, $2 settings JSON, $3 / $4 the product / content field weights as letters
-- (NULL: the defaults; migrations/0025_field_weights.sql)
UPDATE search_settings SET settings = $2::jsonb, product_weights = $3, content_weights = $4
WHERE tenant_id = $1

-- name: relevance_weights_job --
-- The reindex job a change of the field weights started. $1 tenant id, $2 job id
UPDATE search_settings SET weights_job = $2 WHERE tenant_id = $1

-- name: relevance_weights_state --
-- The reindex job of the last change of the field weights, if any, and whether a job created
-- since then that covers the same documents succeeded (an operator's reindex after that job
-- failed). $1 tenant id
SELECT j.id, j.state, j.done, j.total, j.error,
       EXISTS (SELECT 1 FROM index_jobs r
               WHERE r.state = 'succeeded' AND r.created_at >= j.created_at
                 AND (r.tenant_id IS NULL OR r.tenant_id = s.tenant_id) AND r.doc_id IS NULL
                 AND (r.doc_type IS NULL OR r.doc_type = j.doc_type)) AS covered
FROM search_settings s JOIN index_jobs j ON j.id = s.weights_job WHERE s.tenant_id = $1

-- name: relevance_audit_add --
-- $1 tenant, $2 version, $3 subject, $4 subject id, $5 action, $6 actor, $7 before, $8 after
INSERT INTO search_relevance_audit
    (tenant_id, version, subject, subject_id, action, actor, before, after)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)

-- name: relevance_audit_list --
-- The newest changes first. $1 tenant id, $2 limit
SELECT id, version, subject, subject_id, action, actor, at, before, after
FROM search_relevance_audit WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2

-- name: relevance_rule_count --
-- $1 tenant id
SELECT count(*) FROM search_rules WHERE tenant_id = $1

-- name: relevance_rule_get --
-- $1 tenant id, $2 rule id (FOR UPDATE: callers change it in the same transaction)
SELECT id, position, enabled, rule, version, created_at, updated_at
FROM search_rules WHERE tenant_id = $1 AND id = $2 FOR UPDATE

-- name: relevance_rule_insert --
-- $1 id, $2 tenant, $3 position, $4 enabled, $5 rule JSON, $6 actor
INSERT INTO search_rules (id, tenant_id, position, enabled, rule, updated_by)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id, position, enabled, rule, version, created_at, updated_at

-- name: relevance_rule_update --
-- $1 tenant, $2 id, $3 position, $4 enabled, $5 rule JSON, $6 actor
UPDATE search_rules SET position = $3, enabled = $4, rule = $5, updated_by = $6,
                        version = version + 1, updated_at = now()
WHERE tenant_id = $1 AND id = $2
RETURNING id, position, enabled, rule, version, created_at, updated_at

-- name: relevance_rule_delete --
-- $1 tenant, $2 id
DELETE FROM search_rules WHERE tenant_id = $1 AND id = $2
