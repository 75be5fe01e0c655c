-- name: inventory_item_variants --
-- The variants an inventory item stocks. $1 inventory item id
SELECT variant_id FROM commerce_variant_inventory WHERE inventory_item_id = $1 ORDER BY variant_id

-- name: location_inventory_items --
-- The inventory items with a level at a location. $1 location id
SELECT inventory_item_id FROM commerce_inventory_levels WHERE location_id = $1 ORDER BY inventory_item_id

-- name: variant_inventory_link --
-- Link a variant to an inventory item, or change the required quantity; no row if nothing
-- changed. $1 tenant id, $2 variant id, $3 inventory item id, $4 required quantity
INSERT INTO commerce_variant_inventory
        (tenant_id, variant_id, inventory_item_id, required_quantity)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (variant_id, inventory_item_id) DO UPDATE
        SET required_quantity = EXCLUDED.required_quantity
        WHERE commerce_variant_inventory.required_quantity <> EXCLUDED.required_quantity
    RETURNING *

-- name: variant_inventory_unlink --
-- Remove a variant ↔ inventory item link; no row if there was none. $1 tenant id, $2 variant id,
-- $3 inventory item id
DELETE FROM commerce_variant_inventory
    WHERE tenant_id = $1 AND variant_id = $2 AND inventory_item_id = $3 RETURNING *

-- name: level_create --
-- An empty level of an item at a location unless one exists; true if created. $1 id, $2 tenant
-- id, $3 inventory item id, $4 location id
INSERT INTO commerce_inventory_levels (id, tenant_id, inventory_item_id, location_id)
    VALUES ($1, $2, $3, $4) ON CONFLICT (inventory_item_id, location_id) DO NOTHING
    RETURNING true

-- name: level_lock --
-- The level of an item at a location, locked. $1 tenant id, $2 inventory item id, $3 location id
SELECT * FROM commerce_inventory_levels
    WHERE tenant_id = $1 AND inventory_item_id = $2 AND location_id = $3 FOR UPDATE

-- name: level_set --
-- Set a level's stocked and incoming quantities. $1 level id, $2 stocked, $3 incoming
UPDATE commerce_inventory_levels
    SET stocked_quantity = $2, incoming_quantity = $3, updated_at = now()
    WHERE id = $1 RETURNING *

-- name: level_delete --
-- Delete a level. $1 level id
DELETE FROM commerce_inventory_levels WHERE id = $1

-- name: levels_lock --
-- Every level of these items, locked in (item, location) order. $1 tenant id, $2 inventory item
-- ids
SELECT * FROM commerce_inventory_levels
    WHERE tenant_id = $1 AND inventory_item_id = ANY($2::uuid[])
    ORDER BY inventory_item_id, location_id FOR UPDATE

-- name: levels_apply --
-- Set stocked and reserved quantities of levels. $1 level ids, $2 stocked, $3 reserved
UPDATE commerce_inventory_levels l
    SET stocked_quantity = n.stocked, reserved_quantity = n.reserved, updated_at = now()
    FROM unnest($1::uuid[], $2::int[], $3::int[]) AS n(id, stocked, reserved)
    WHERE l.id = n.id
