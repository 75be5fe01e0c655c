-- name: text_search_config_exists --
-- Whether PostgreSQL has this text search configuration. $1 name
SELECT 1 FROM pg_ts_config WHERE cfgname = $1

-- name: tenant_by_slug --
-- The tenant with this slug. $1 slug
SELECT * FROM tenants WHERE slug = $1

-- name: bodies_revector --
-- Rebuild every body vector of a tenant with a text search configuration. $1 tenant id, $2
-- configuration
UPDATE bodies SET search_vector = to_tsvector($2::regconfig, body), updated_at = now()
WHERE tenant_id = $1

-- name: module_toggle --
-- Enable or disable a tenant's module, keeping its settings unless given. $1 id, $2 tenant id,
-- $3 module slug, $4 enabled, $5 settings for a new row, $6 new settings (or null)
INSERT INTO tenant_modules (id, tenant_id, module_slug, enabled, settings)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (tenant_id, module_slug) DO UPDATE
        SET enabled = EXCLUDED.enabled,
            settings = COALESCE($6, tenant_modules.settings)
    RETURNING *
