-- name: order_lines --
-- Each ordered variant (null columns for an unknown one) with its base price (no price list, min
-- quantity 1) in the currency, in item order. $1 variant ids, $2 currency
SELECT i.ord::int - 1 AS index, i.variant_id, v.tenant_id, v.product_id, v.title, v.sku,
       v.manage_inventory, v.allow_backorder, p.title AS product_title, pr.amount
FROM unnest($1::uuid[]) WITH ORDINALITY AS i(variant_id, ord)
LEFT JOIN commerce_variants v ON v.id = i.variant_id
LEFT JOIN commerce_products p ON p.id = v.product_id
LEFT JOIN commerce_prices pr ON pr.variant_id = v.id AND pr.currency_code = $2
     AND pr.price_list_id IS NULL AND pr.min_quantity = 1
ORDER BY i.ord

-- name: order_items_insert --
-- Insert an order's items. $1 tenant id, $2 order id, $3 order created_at, $4 ids, $5 variant
-- ids, $6 titles, $7 skus, $8 quantities, $9 unit prices, $10 totals, $11 metadata
INSERT INTO commerce_order_items (id, tenant_id, order_id, order_created_at, variant_id, title,
                                  sku, quantity, unit_price, total, metadata)
SELECT n.id, $1, $2, $3, n.variant_id, n.title, n.sku, n.quantity, n.unit_price, n.total,
       n.metadata
FROM unnest($4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::int[], $9::bigint[],
            $10::bigint[], $11::jsonb[])
     AS n(id, variant_id, title, sku, quantity, unit_price, total, metadata)
RETURNING *

-- name: variant_inventory_links --
-- The inventory links of variants. $1 tenant id, $2 variant ids
SELECT * FROM commerce_variant_inventory
    WHERE tenant_id = $1 AND variant_id = ANY($2::uuid[])
    ORDER BY variant_id, inventory_item_id

-- name: low_stock_threshold --
-- A tenant's low-stock threshold (default 5). $1 tenant id
SELECT COALESCE((settings->>'low_stock_threshold')::int, 5) FROM tenants WHERE id = $1

-- name: order_reservations --
-- What an order's items reserved, per inventory item and location. $1 order id, $2 order
-- created_at, $3 tenant id
SELECT (r->>'inventory_item_id')::uuid AS inventory_item_id,
           (r->>'location_id')::uuid AS location_id, sum((r->>'quantity')::int) AS quantity
    FROM commerce_order_items i,
         jsonb_array_elements(COALESCE(i.metadata->'reservations', '[]')) AS r
    WHERE i.order_id = $1 AND i.order_created_at = $2 AND i.tenant_id = $3
    GROUP BY 1, 2

-- name: order_items --
-- An order's items in the order they were placed. $1 order id, $2 order created_at, $3 tenant id
SELECT * FROM commerce_order_items
    WHERE order_id = $1 AND order_created_at = $2 AND tenant_id = $3
    ORDER BY (metadata->>'position')::int
