-- name: mark_indexed --
-- Record that the events at these outbox positions are indexed (consistency tokens).
-- $1 outbox seqs
UPDATE outbox SET indexed_at = clock_timestamp()
WHERE seq = ANY($1::bigint[]) AND indexed_at IS NULL

-- name: doc_tenant_product --
-- The tenant of a product, from the source or else the index. $1 product id
SELECT COALESCE((SELECT tenant_id FROM commerce_products WHERE id = $1),
                (SELECT tenant_id FROM index_products WHERE product_id = $1))

-- name: doc_tenant_content --
-- The tenant of a node, from the source or else the index. $1 node id
SELECT COALESCE((SELECT tenant_id FROM nodes WHERE id = $1),
                (SELECT tenant_id FROM index_content WHERE node_id = $1))
