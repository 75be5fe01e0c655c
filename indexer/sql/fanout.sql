-- Fan-out lookups: each takes $1 tenant id and $2 key ids and returns (via, doc_id): the key
-- that led to each document. They read the source and the index tables alike, so keys whose
-- source rows are already gone (a deleted category or tag) still find the documents naming them.

-- name: lookup_products_of_items --
-- Products whose variants draw on these inventory items.
SELECT vi.inventory_item_id AS via, v.product_id AS doc_id
FROM commerce_variant_inventory vi JOIN commerce_variants v ON v.id = vi.variant_id
WHERE vi.tenant_id = $1 AND vi.inventory_item_id = ANY($2::uuid[])

-- name: lookup_products_of_variants --
-- Products of these variants.
SELECT id AS via, product_id AS doc_id FROM commerce_variants
WHERE tenant_id = $1 AND id = ANY($2::uuid[])

-- name: lookup_products_in_categories --
-- Products linked to these commerce categories, or whose documents still name them.
SELECT category_id AS via, product_id AS doc_id FROM commerce_product_categories
WHERE tenant_id = $1 AND category_id = ANY($2::uuid[])
UNION
SELECT c AS via, product_id FROM index_products, unnest(category_ids) AS c
WHERE tenant_id = $1 AND category_ids && $2::uuid[] AND c = ANY($2::uuid[])

-- name: lookup_tagged_products --
-- Products carrying these tags, or whose documents still name them.
SELECT tag_id AS via, target_id AS doc_id FROM taggables
WHERE tenant_id = $1 AND tag_id = ANY($2::uuid[]) AND target_type = 'product'
UNION
SELECT t AS via, product_id FROM index_products, unnest(tag_ids) AS t
WHERE tenant_id = $1 AND tag_ids && $2::uuid[] AND t = ANY($2::uuid[])

-- name: lookup_tagged_content --
-- Nodes carrying these tags, or whose documents still name them.
SELECT tag_id AS via, target_id AS doc_id FROM taggables
WHERE tenant_id = $1 AND tag_id = ANY($2::uuid[]) AND target_type = 'node'
UNION
SELECT t AS via, node_id FROM index_content, unnest(tag_ids) AS t
WHERE tenant_id = $1 AND tag_ids && $2::uuid[] AND t = ANY($2::uuid[])

-- name: lookup_content_in_categories --
-- Nodes in these content categories, or whose documents still name them.
SELECT category_id AS via, id AS doc_id FROM nodes
WHERE tenant_id = $1 AND category_id = ANY($2::uuid[])
UNION
SELECT category_id, node_id FROM index_content
WHERE tenant_id = $1 AND category_id = ANY($2::uuid[])

-- name: lookup_author_content --
-- Nodes written by these users, or whose documents still name them.
SELECT author_id AS via, id AS doc_id FROM nodes
WHERE tenant_id = $1 AND author_id = ANY($2::uuid[])
UNION
SELECT author_id, node_id FROM index_content
WHERE tenant_id = $1 AND author_id = ANY($2::uuid[])

-- name: lookup_content_parents --
-- The parents of these nodes (their reply_count follows their children).
SELECT id AS via, parent_id AS doc_id FROM nodes
WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND parent_id IS NOT NULL

-- name: lookup_tenant_products --
-- Every product of the tenant, in the source or in the index ($2 holds the tenant id).
SELECT $1::uuid AS via, id AS doc_id FROM commerce_products WHERE tenant_id = $1
UNION
SELECT $1::uuid, product_id FROM index_products WHERE tenant_id = $1 AND $1 = ANY($2::uuid[])

-- name: lookup_tenant_content --
-- Every node of the tenant, in the source or in the index ($2 holds the tenant id).
SELECT $1::uuid AS via, id AS doc_id FROM nodes WHERE tenant_id = $1
UNION
SELECT $1::uuid, node_id FROM index_content WHERE tenant_id = $1 AND $1 = ANY($2::uuid[])

-- name: lookup_products_of_options --
-- Products of these options (an option value names its option).
SELECT id AS via, product_id AS doc_id FROM commerce_options
WHERE tenant_id = $1 AND id = ANY($2::uuid[])
