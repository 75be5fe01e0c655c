-- name: import_refs_lock --
-- Serialize the creation of missing categories, tags and stock locations by imports of one
-- tenant (stock locations have no unique name to conflict on). $1 tenant id
SELECT pg_advisory_xact_lock(hashtext('rustok-import-refs:' || $1::uuid::text))

-- name: import_categories_find --
-- Commerce categories by handle, key-share locked (as a foreign key check locks them: a
-- concurrent delete waits for the chunk's commit). $1 tenant id, $2 handles
SELECT id, handle FROM commerce_categories WHERE tenant_id = $1 AND handle = ANY($2::text[])
    ORDER BY id FOR KEY SHARE

-- name: import_categories_create --
-- Create root commerce categories; taken handles are skipped. $1 tenant id, $2 ids, $3 names,
-- $4 handles
INSERT INTO commerce_categories (id, tenant_id, name, handle)
    SELECT u.id, $1, u.name, u.handle FROM unnest($2::uuid[], $3::text[], $4::text[])
        AS u(id, name, handle)
    ON CONFLICT DO NOTHING RETURNING id, handle

-- name: import_tags_find --
-- Tags by slug, key-share locked. $1 tenant id, $2 slugs
SELECT id, slug FROM tags WHERE tenant_id = $1 AND slug = ANY($2::text[])
    ORDER BY id FOR KEY SHARE

-- name: import_tags_create --
-- Create tags; taken slugs are skipped. $1 tenant id, $2 ids, $3 names, $4 slugs
INSERT INTO tags (id, tenant_id, name, slug)
    SELECT u.id, $1, u.name, u.slug FROM unnest($2::uuid[], $3::text[], $4::text[])
        AS u(id, name, slug)
    ON CONFLICT DO NOTHING RETURNING id, slug

-- name: import_locations_find --
-- Stock locations by name (the oldest id of a name), key-share locked. $1 tenant id, $2 names
SELECT l.id, l.name FROM commerce_stock_locations l
    WHERE l.id IN (SELECT DISTINCT ON (name) id FROM commerce_stock_locations
                   WHERE tenant_id = $1 AND name = ANY($2::text[]) ORDER BY name, id)
    ORDER BY l.id FOR KEY SHARE OF l

-- name: import_parents_lock --
-- The parents outside the chunk its rows reference but _refs does not lock: the tenant and
-- the currencies (key-share locked, as a foreign key check locks them); how many exist, and
-- the transaction's now() (a copied product's published_at, as the upsert sets it).
-- $1 tenant id, $2 currency codes
SELECT (SELECT count(*) FROM (SELECT 1 FROM tenants WHERE id = $1 FOR KEY SHARE) t)
       + (SELECT count(*) FROM (SELECT 1 FROM currencies WHERE code = ANY($2::text[])
                                ORDER BY code FOR KEY SHARE) c) AS found,
       now() AS now

-- name: import_parents_check --
-- The parents outside the chunk that its part rows name, checked per statement (under
-- session_replication_role = replica PostgreSQL's per-row checks do not run): the stock
-- locations and commerce categories (distinct ids, key-share locked when _refs found them),
-- counted in the tenant. The parents inside the chunk (its products, options, values,
-- variants and inventory items) are rows the same transaction wrote with the ids the parts
-- name; the tenant and currencies were locked and counted by import_parents_lock.
-- $1 tenant id, $2 stock locations, $3 commerce categories: true when each exists
SELECT (SELECT count(*) FROM commerce_stock_locations
        WHERE tenant_id = $1 AND id = ANY($2::uuid[])) = cardinality($2::uuid[])
   AND (SELECT count(*) FROM commerce_categories WHERE tenant_id = $1 AND id = ANY($3::uuid[]))
           = cardinality($3::uuid[])

-- name: import_replica_on --
-- The chunk's part rows are written with the foreign key triggers off (as pg_restore and
-- logical replication write); import_parents_check checks them per statement instead. Needs
-- a superuser or, from PostgreSQL 15, GRANT SET ON PARAMETER session_replication_role.
SELECT set_config('session_replication_role', 'replica', true)

-- name: import_replica_off --
SELECT set_config('session_replication_role', 'origin', true)

-- name: import_locations_create --
-- Create stock locations. $1 tenant id, $2 ids, $3 names
INSERT INTO commerce_stock_locations (id, tenant_id, name)
    SELECT u.id, $1, u.name FROM unnest($2::uuid[], $3::text[]) AS u(id, name)

-- name: import_products_lock --
-- The tenant's products with these handles, locked. $1 tenant id, $2 handles
SELECT id, handle FROM commerce_products WHERE tenant_id = $1 AND handle = ANY($2::text[])
    ORDER BY id FOR UPDATE

-- name: import_clear_items --
-- Delete the inventory items that stock only variants of these products (their levels and
-- links go by cascade). $1 tenant id, $2 product ids
DELETE FROM commerce_inventory_items i
    USING commerce_variant_inventory vi JOIN commerce_variants v ON v.id = vi.variant_id
    WHERE vi.inventory_item_id = i.id AND i.tenant_id = $1 AND v.tenant_id = $1
      AND v.product_id = ANY($2::uuid[])
      AND NOT EXISTS (SELECT 1 FROM commerce_variant_inventory o
                      JOIN commerce_variants ov ON ov.id = o.variant_id
                      WHERE o.inventory_item_id = i.id AND ov.product_id <> ALL($2::uuid[]))

-- name: import_clear_variants --
-- Delete the variants of these products (prices and links go by cascade). $1 tenant id,
-- $2 product ids
DELETE FROM commerce_variants WHERE tenant_id = $1 AND product_id = ANY($2::uuid[])

-- name: import_clear_options --
-- Delete the options of these products (their values by cascade). $1 tenant id, $2 product ids
DELETE FROM commerce_options WHERE tenant_id = $1 AND product_id = ANY($2::uuid[])

-- name: import_clear_categories --
-- Unlink these products from every category. $1 tenant id, $2 product ids
DELETE FROM commerce_product_categories WHERE tenant_id = $1 AND product_id = ANY($2::uuid[])

-- name: import_clear_tags --
-- Detach every tag from these products. $1 tenant id, $2 product ids
DELETE FROM taggables WHERE tenant_id = $1 AND target_type = 'product'
    AND target_id = ANY($2::uuid[])

-- name: import_products_upsert --
-- Update the products whose handle exists (published_at: kept while published), or insert
-- them when they went meanwhile (the import copies the products it did not find).
-- $1 tenant id, $2 ids, $3 titles, $4 subtitles, $5 handles, $6 descriptions, $7 statuses,
-- $8 discountable, $9 metadata, $10 thumbnails
INSERT INTO commerce_products AS p (id, tenant_id, title, subtitle, handle, description, status,
                                    discountable, metadata, thumbnail, published_at)
    SELECT u.id, $1, u.title, u.subtitle, u.handle, u.description, u.status, u.discountable,
           u.metadata, u.thumbnail, CASE WHEN u.status = 'published' THEN now() END
    FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::bool[], $9::jsonb[], $10::text[])
        AS u(id, title, subtitle, handle, description, status, discountable, metadata,
             thumbnail)
    ON CONFLICT (tenant_id, handle) DO UPDATE SET
        title = EXCLUDED.title, subtitle = EXCLUDED.subtitle,
        description = EXCLUDED.description, status = EXCLUDED.status,
        discountable = EXCLUDED.discountable, metadata = EXCLUDED.metadata,
        thumbnail = EXCLUDED.thumbnail,
        published_at = CASE WHEN EXCLUDED.status = 'published'
                            THEN COALESCE(p.published_at, now()) END,
        updated_at = now()
    RETURNING id, handle

-- name: import_taggables_insert --
-- $1 tenant id, $2 tag ids, $3 target type, $4 target ids
INSERT INTO taggables (tenant_id, tag_id, target_type, target_id)
    SELECT $1, u.tag_id, $3, u.target_id FROM unnest($2::uuid[], $4::uuid[]) AS u(tag_id, target_id)
    ON CONFLICT DO NOTHING

-- name: import_node_find --
-- A node of the tenant by kind and slug. $1 tenant id, $2 kind, $3 slug
SELECT id FROM nodes WHERE tenant_id = $1 AND kind = $2 AND slug = $3

-- name: import_content_category_find --
-- Content categories by slug. $1 tenant id, $2 slugs
SELECT id, slug FROM categories WHERE tenant_id = $1 AND slug = ANY($2::text[])

-- name: import_content_categories_create --
-- Create root content categories; taken slugs are skipped. $1 tenant id, $2 ids, $3 names,
-- $4 slugs
INSERT INTO categories (id, tenant_id, name, slug)
    SELECT u.id, $1, u.name, u.slug FROM unnest($2::uuid[], $3::text[], $4::text[])
        AS u(id, name, slug)
    ON CONFLICT DO NOTHING RETURNING id, slug

-- name: import_node_tags_clear --
-- Detach every tag from a node. $1 tenant id, $2 node id
DELETE FROM taggables WHERE tenant_id = $1 AND target_type = 'node' AND target_id = $2

-- name: import_planner_rows --
-- The products in the planner's statistics (0 before the first ANALYZE)
SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'commerce_products'::regclass

-- name: import_analyze_sample --
-- The statistics target of the next ANALYZE in this transaction: a sample of 300 x 10 rows a
-- table instead of 300 x 100, a sixth of the CPU (row counts and the keys' distinct counts
-- are what the document build's plan needs, and its plan is the same; autovacuum's ANALYZE
-- later takes the full sample)
SELECT set_config('default_statistics_target', '10', true)

-- name: import_analyze --
-- The statistics of the tables an import writes and the indexer's document build reads (a
-- role that does not own them gets a warning per table, not an error)
ANALYZE commerce_products, commerce_options, commerce_option_values, commerce_variants,
    commerce_variant_options, commerce_prices, commerce_inventory_items,
    commerce_variant_inventory, commerce_inventory_levels, commerce_product_categories,
    commerce_categories, commerce_stock_locations, tags, taggables

-- name: import_job_create --
-- $1 id, $2 tenant id, $3 requested by, $4 source, $5 total bytes, $6 source sha256
INSERT INTO import_jobs (id, tenant_id, requested_by, source, total_bytes, source_sha256)
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING *

-- name: import_job_get --
-- $1 id
SELECT * FROM import_jobs WHERE id = $1

-- name: import_job_resumable --
-- The newest unfinished job of a tenant over the same input. $1 tenant id, $2 source sha256
SELECT * FROM import_jobs WHERE tenant_id = $1 AND source_sha256 = $2 AND state <> 'succeeded'
    ORDER BY started_at DESC LIMIT 1

-- name: import_job_list --
-- A tenant's (or, $1 null, every tenant's) jobs, newest first. $1 tenant id, $2 limit
SELECT * FROM import_jobs WHERE $1::uuid IS NULL OR tenant_id = $1
    ORDER BY started_at DESC LIMIT $2

-- name: import_job_start --
-- A (re)started run. $1 id, $2 total bytes (null: keep), $3 requested by
UPDATE import_jobs SET state = 'running', error = NULL, finished_at = NULL,
    total_bytes = COALESCE($2, total_bytes), requested_by = $3, updated_at = now()
    WHERE id = $1 RETURNING *

-- name: import_job_progress --
-- A committed chunk. $1 id, $2 lines done, $3 bytes done, $4 prefix sha256, $5 written,
-- $6 failed, $7 rate, $8 the chunk's consistency token (null: no event)
UPDATE import_jobs SET lines_done = $2, bytes_done = $3, prefix_sha256 = $4,
    written = written + $5, failed = failed + $6, rate = $7,
    consistency_token = GREATEST(consistency_token, $8), updated_at = now()
    WHERE id = $1

-- name: import_job_finish --
-- $1 id, $2 state, $3 error, $4 source sha256 (null: keep)
UPDATE import_jobs SET state = $2, error = $3, source_sha256 = COALESCE($4, source_sha256),
    finished_at = now(), updated_at = now() WHERE id = $1 RETURNING *

-- name: import_errors_insert --
-- $1 import id, $2 tenant id, $3 lines, $4 fields, $5 reasons
INSERT INTO import_errors (import_id, tenant_id, line, field, reason)
    SELECT $1, $2, u.line, u.field, u.reason
    FROM unnest($3::bigint[], $4::text[], $5::text[]) AS u(line, field, reason)
    ON CONFLICT DO NOTHING

-- name: import_errors_get --
-- The first refused lines of a job. $1 import id, $2 limit
SELECT line, field, reason FROM import_errors WHERE import_id = $1 ORDER BY line LIMIT $2
