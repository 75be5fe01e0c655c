-- name: naive_product_ids --
-- Every product id of a tenant (the manifest loads the tenant's products). $1 tenant id
SELECT id FROM commerce_products WHERE tenant_id = $1 ORDER BY id

-- name: naive_tenant_language --
-- The text search configuration of a tenant's language. $1 tenant id
SELECT COALESCE((SELECT c.oid::regconfig::text FROM tenants t JOIN pg_ts_config c
                 ON c.cfgname = t.settings->>'language' WHERE t.id = $1), 'simple')

-- name: naive_product --
-- One product. $1 product id
SELECT * FROM commerce_products WHERE id = $1

-- name: naive_variants --
-- A product's variants. $1 product id
SELECT * FROM commerce_variants WHERE product_id = $1

-- name: naive_prices --
-- The base prices of some variants. $1 variant ids
SELECT * FROM commerce_prices
WHERE variant_id = ANY($1::uuid[]) AND price_list_id IS NULL AND min_quantity = 1

-- name: naive_stock --
-- Each variant's inventory items with what is available of each. $1 variant ids
SELECT vi.variant_id, vi.required_quantity,
       COALESCE(sum(l.stocked_quantity - l.reserved_quantity), 0) AS available
FROM commerce_variant_inventory vi
LEFT JOIN commerce_inventory_levels l ON l.inventory_item_id = vi.inventory_item_id
WHERE vi.variant_id = ANY($1::uuid[])
GROUP BY vi.variant_id, vi.inventory_item_id, vi.required_quantity

-- name: naive_categories --
-- A product's categories. $1 product id
SELECT c.* FROM commerce_product_categories pc
JOIN commerce_categories c ON c.id = pc.category_id WHERE pc.product_id = $1

-- name: naive_tags --
-- A product's tags. $1 tenant id, $2 product id
SELECT tg.* FROM taggables ta JOIN tags tg ON tg.id = ta.tag_id
WHERE ta.tenant_id = $1 AND ta.target_type = 'product' AND ta.target_id = $2

-- name: naive_meta --
-- A product's SEO meta. $1 tenant id, $2 product id
SELECT * FROM meta WHERE tenant_id = $1 AND target_type = 'product' AND target_id = $2

-- name: naive_built --
-- One product document as the `ids` and `built` CTEs of the indexer's write statement
-- (`write_products` follows), its search vector computed from the texts given. $1 product id,
-- $2 tenant id, $3 engines to queue (write_products), $4 title, $5 subtitle, $6 handle,
-- $7 description, $8 status, $9 prices, $10 currencies, $11 total stock, $12 has stock,
-- $13 categories, $14 category ids, $15 tags, $16 tag ids, $17 meta title,
-- $18 meta description, $19 text search configuration, $20 weight-B text (subtitle, tags,
-- category names), $21 created at, $22 published at
WITH ids AS (SELECT $1::uuid AS id, now() AS event_time),
built AS (
    SELECT $1::uuid AS product_id, $2::uuid AS tenant_id, $4::text AS title,
           $5::text AS subtitle, $6::text AS handle, $7::text AS description,
           $8::text AS status, $9::jsonb AS prices, $10::text[] AS currencies,
           $11::int AS total_stock, $12::bool AS has_stock, $13::jsonb AS categories,
           $14::uuid[] AS category_ids, $15::text[] AS tags, $16::uuid[] AS tag_ids,
           $17::text AS meta_title, $18::text AS meta_description,
           setweight(to_tsvector($19::regconfig, $4::text), 'A')
             || setweight(to_tsvector($19::regconfig, $20::text), 'B')
             || setweight(to_tsvector($19::regconfig, COALESCE($7::text, '')), 'C')
             AS search_vector,
           $21::timestamptz AS created_at, $22::timestamptz AS published_at
),
