-- name: gql_product --
-- One product document of a tenant by id or handle. $1 tenant, $2 id (or NULL), $3 handle
-- (or NULL), $4 include unpublished
SELECT product_id, title, subtitle, handle, description, status, prices, currencies,
       total_stock, has_stock, categories, tags, created_at, published_at, thumbnail, skus,
       options
FROM index_products
WHERE tenant_id = $1 AND (product_id = $2 OR handle = $3) AND ($4 OR status = 'published')
LIMIT 1

-- name: gql_node --
-- One content document of a tenant by id or slug. $1 tenant, $2 id (or NULL), $3 slug (or
-- NULL), $4 include unpublished
SELECT node_id, kind, status, title, slug, excerpt, body_preview, author_name, category_name,
       tags, parent_id, published_at, created_at
FROM index_content
WHERE tenant_id = $1 AND (node_id = $2 OR slug = $3) AND ($4 OR status = 'published')
LIMIT 1

-- name: gql_categories --
-- The commerce categories of a tenant's product documents with their product counts, by
-- name. $1 tenant, $2 include unpublished, $3 limit
SELECT c->>'id' AS id, c->>'name' AS name, c->>'handle' AS handle, count(*) AS products
FROM index_products p CROSS JOIN LATERAL jsonb_array_elements(p.categories) c
WHERE p.tenant_id = $1 AND ($2 OR p.status = 'published')
GROUP BY 1, 2, 3 ORDER BY 2, 1 LIMIT $3

-- name: gql_tags --
-- The tags of a tenant's documents with product and node counts, by name. $1 tenant,
-- $2 include unpublished, $3 limit
SELECT name, sum(product)::int AS products, sum(node)::int AS nodes FROM (
    SELECT unnest(tags) AS name, 1 AS product, 0 AS node FROM index_products
    WHERE tenant_id = $1 AND ($2 OR status = 'published')
    UNION ALL
    SELECT unnest(tags), 0, 1 FROM index_content
    WHERE tenant_id = $1 AND ($2 OR status = 'published')
) t GROUP BY name ORDER BY name LIMIT $3
