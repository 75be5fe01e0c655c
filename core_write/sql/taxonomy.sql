-- name: tree_lock --
-- Serialize moves and subtree deletes of one tree until commit. $1 '{table}:{tenant id}'
SELECT pg_advisory_xact_lock(hashtextextended($1, 0))

-- name: tag_attach --
-- Link a tag to a target; no row if it already is. $1 tenant id, $2 tag id, $3 target type, $4
-- target id
INSERT INTO taggables (tenant_id, tag_id, target_type, target_id)
    VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING *

-- name: tagging_get --
-- A tag's link to a target. $1 tag id, $2 target type, $3 target id
SELECT * FROM taggables WHERE tag_id = $1 AND target_type = $2 AND target_id = $3

-- name: tag_detach --
-- Remove a tag's link to a target; no row if there was none. $1 tenant id, $2 tag id, $3 target
-- type, $4 target id
DELETE FROM taggables
     WHERE tenant_id = $1 AND tag_id = $2 AND target_type = $3 AND target_id = $4
    RETURNING *
