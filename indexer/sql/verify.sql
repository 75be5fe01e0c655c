-- name: source_page_products --
-- A keyset page of product ids in scope. $1 tenant id or NULL, $2 after this id, $3 limit,
-- $4 single product id or NULL
SELECT id FROM commerce_products
WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($4::uuid IS NULL OR id = $4) AND id > $2
ORDER BY id LIMIT $3

-- name: source_page_content --
-- A keyset page of node ids in scope. $1 tenant id or NULL, $2 after this id, $3 limit,
-- $4 single node id or NULL
SELECT id FROM nodes
WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($4::uuid IS NULL OR id = $4) AND id > $2
ORDER BY id LIMIT $3

-- name: source_count_products --
-- Products in scope. $1 tenant id or NULL, $2 single product id or NULL
SELECT count(*) FROM commerce_products
WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::uuid IS NULL OR id = $2)

-- name: source_count_content --
-- Nodes in scope. $1 tenant id or NULL, $2 single node id or NULL
SELECT count(*) FROM nodes
WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::uuid IS NULL OR id = $2)

-- name: extra_products --
-- Documents in scope whose source is gone or, without drafts, not published.
-- $1 tenant id or NULL, $2 include drafts, $3 single product id or NULL
SELECT i.product_id AS id FROM index_products i
WHERE ($1::uuid IS NULL OR i.tenant_id = $1) AND ($3::uuid IS NULL OR i.product_id = $3)
  AND NOT EXISTS (SELECT 1 FROM commerce_products p
                  WHERE p.id = i.product_id AND ($2 OR p.status = 'published'))

-- name: extra_content --
-- The same for content. $1 tenant id or NULL, $2 include drafts, $3 single node id or NULL
SELECT i.node_id AS id FROM index_content i
WHERE ($1::uuid IS NULL OR i.tenant_id = $1) AND ($3::uuid IS NULL OR i.node_id = $3)
  AND NOT EXISTS (SELECT 1 FROM nodes n
                  WHERE n.id = i.node_id AND ($2 OR n.status = 'published'))
