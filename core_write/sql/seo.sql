-- name: meta_get --
-- A target's meta row. $1 tenant id, $2 target type, $3 target id
SELECT * FROM meta WHERE tenant_id = $1 AND target_type = $2 AND target_id = $3

-- name: meta_delete --
-- Delete a target's meta row; no row if it had none. $1 tenant id, $2 target type, $3 target id
DELETE FROM meta WHERE tenant_id = $1 AND target_type = $2 AND target_id = $3 RETURNING *
