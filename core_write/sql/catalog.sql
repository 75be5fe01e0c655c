-- name: option_values_of_product --
-- The given option values that belong to an option of the product. $1 value ids, $2 tenant id,
-- $3 product id
SELECT v.id, v.option_id FROM commerce_option_values v
    JOIN commerce_options o ON o.id = v.option_id
    WHERE v.id = ANY($1::uuid[]) AND o.tenant_id = $2 AND o.product_id = $3

-- name: variant_option_value_ids --
-- A variant's option value ids, sorted. $1 variant id
SELECT option_value_id FROM commerce_variant_options WHERE variant_id = $1 ORDER BY 1

-- name: variant_options_clear --
-- Unlink every option value of a variant. $1 variant id
DELETE FROM commerce_variant_options WHERE variant_id = $1

-- name: variant_options_insert --
-- Link option values to a variant. $1 tenant id, $2 variant id, $3 value ids
INSERT INTO commerce_variant_options (tenant_id, variant_id, option_value_id)
    SELECT $1, $2, unnest($3::uuid[])

-- name: option_values --
-- An option's values in display order. $1 option id
SELECT * FROM commerce_option_values WHERE option_id = $1 ORDER BY position, value

-- name: option_values_delete --
-- Delete option values. $1 value ids
DELETE FROM commerce_option_values WHERE id = ANY($1::uuid[])

-- name: option_values_insert --
-- Add values to an option. $1 tenant id, $2 option id, $3 ids, $4 texts, $5 positions
INSERT INTO commerce_option_values (id, tenant_id, option_id, value, position)
    SELECT a.id, $1, $2, a.value, a.position
    FROM unnest($3::uuid[], $4::text[], $5::int[]) AS a(id, value, position)

-- name: option_values_move --
-- Set the positions of option values. $1 value ids, $2 positions
UPDATE commerce_option_values v SET position = m.position
    FROM unnest($1::uuid[], $2::int[]) AS m(id, position) WHERE v.id = m.id

-- name: price_find --
-- The price of a variant for a currency, price list and min quantity. $1 variant id, $2
-- currency, $3 price list id (or null), $4 min quantity
SELECT * FROM commerce_prices WHERE variant_id = $1 AND currency_code = $2
    AND price_list_id IS NOT DISTINCT FROM $3 AND min_quantity = $4

-- name: variant_product_id --
-- The product of a variant. $1 variant id
SELECT product_id FROM commerce_variants WHERE id = $1
