-- name: catalog_taken_slugs --
-- Tenant slugs of the catalog that already exist. $1 slugs
SELECT slug FROM tenants WHERE slug = ANY($1::text[])

-- name: catalog_tenant --
-- A tenant as tenants.create_tenant writes it. $1 id, $2 name, $3 slug, $4 settings
INSERT INTO tenants (id, name, slug, settings) VALUES ($1, $2, $3, $4)

-- name: catalog_modules --
-- Every known module enabled for a tenant. $1 tenant id, $2 module ids, $3 module slugs
INSERT INTO tenant_modules (id, tenant_id, module_slug, enabled)
SELECT m.id, $1, m.slug, true FROM unnest($2::uuid[], $3::text[]) AS m(id, slug)

-- name: catalog_bodies --
-- Node bodies with the search vector content.create_node computes (the tenant's language).
-- $1 tenant id, $2 node ids, $3 bodies
INSERT INTO bodies (node_id, tenant_id, body, format, search_vector)
SELECT b.node_id, $1, b.body, 'markdown', to_tsvector(
    COALESCE((SELECT c.oid::regconfig FROM tenants t JOIN pg_ts_config c
               ON c.cfgname = t.settings->>'language' WHERE t.id = $1),
             'simple'::regconfig), b.body)
FROM unnest($2::uuid[], $3::text[]) AS b(node_id, body)

-- name: catalog_tag_counts --
-- tags.use_count as the taggables trigger keeps it (the loader disables triggers). $1 tenants
UPDATE tags t SET use_count = c.n
FROM (SELECT tag_id, count(*) AS n FROM taggables WHERE tenant_id = ANY($1::uuid[])
      GROUP BY tag_id) c
WHERE t.id = c.tag_id

-- name: catalog_category_counts --
-- categories.node_count as the nodes trigger keeps it. $1 tenants
UPDATE categories c SET node_count = n.n
FROM (SELECT tenant_id, category_id, count(*) AS n FROM nodes
      WHERE tenant_id = ANY($1::uuid[]) AND category_id IS NOT NULL
      GROUP BY tenant_id, category_id) n
WHERE c.tenant_id = n.tenant_id AND c.id = n.category_id

-- name: catalog_reply_counts --
-- nodes.reply_count (comments per parent) as the nodes trigger keeps it. $1 tenants
UPDATE nodes p SET reply_count = r.n
FROM (SELECT tenant_id, parent_id, count(*) AS n FROM nodes
      WHERE tenant_id = ANY($1::uuid[]) AND kind = 'comment' AND parent_id IS NOT NULL
      GROUP BY tenant_id, parent_id) r
WHERE p.tenant_id = r.tenant_id AND p.id = r.parent_id
