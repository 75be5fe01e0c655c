-- name: commerce_category_tree_lock --
-- Serialize moves in one tenant's commerce category tree until commit. $1 tenant id
SELECT pg_advisory_xact_lock(hashtext('commerce_categories'), hashtext($1::uuid::text))

-- name: commerce_category_is_ancestor --
-- Whether $2 is $1 or one of its ancestors (a move of $2 under $1 would make a cycle). $1 new
-- parent id, $2 category id, $3 tenant id
WITH RECURSIVE up(id, parent_id) AS (
        SELECT id, parent_id FROM commerce_categories WHERE id = $1 AND tenant_id = $3
        UNION
        SELECT c.id, c.parent_id FROM commerce_categories c JOIN up ON c.id = up.parent_id
        WHERE c.tenant_id = $3)
    SELECT EXISTS (SELECT 1 FROM up WHERE id = $2)

-- name: commerce_category_children --
-- The direct children of a commerce category. $1 tenant id, $2 category id
SELECT id FROM commerce_categories WHERE tenant_id = $1 AND parent_id = $2 ORDER BY id

-- name: product_category_link --
-- Put a product in a category; no row if it already is. $1 tenant id, $2 product id, $3 category
-- id
INSERT INTO commerce_product_categories (tenant_id, product_id, category_id)
    VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING *

-- name: product_category_unlink --
-- Take a product out of a category; no row if it was not in it. $1 tenant id, $2 product id, $3
-- category id
DELETE FROM commerce_product_categories
    WHERE tenant_id = $1 AND product_id = $2 AND category_id = $3 RETURNING *
