-- Full rebuild of one document type as a new generation table (indexer/rebuild.py). The
-- {live}, {new}, {old}, {key}, {source} and {columns} placeholders are filled from a closed
-- set of table and column names (never from input).

-- name: rebuild_columns --
-- The live index table's columns in order. $1 table name
SELECT attname::text FROM pg_attribute
WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum

-- name: rebuild_refuses --
-- What a table swap would lose: triggers, rules, policies, views, foreign keys and
-- constraints other than the primary key, NOT NULL and CHECK. $1 table name
SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgrelid = $1::text::regclass AND NOT tgisinternal
UNION ALL SELECT 'rule ' || rulename FROM pg_rules WHERE tablename = $1::text
    AND schemaname = current_schema()
UNION ALL SELECT 'policy ' || polname FROM pg_policy WHERE polrelid = $1::text::regclass
UNION ALL SELECT 'constraint ' || conname FROM pg_constraint
    WHERE (conrelid = $1::text::regclass AND contype NOT IN ('p', 'c'))
       OR confrelid = $1::text::regclass
UNION ALL SELECT DISTINCT 'view ' || v.relname FROM pg_depend d
    JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
    WHERE d.refobjid = $1::text::regclass AND v.oid <> $1::text::regclass

-- name: rebuild_indexes --
-- The live table's indexes: name, definition, and whether it backs the primary key.
-- $1 table name
SELECT i.relname::text AS name, pg_get_indexdef(i.oid) AS definition,
       COALESCE(c.contype = 'p', false) AS primary_key
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
LEFT JOIN pg_constraint c ON c.conindid = i.oid AND c.conrelid = x.indrelid
WHERE x.indrelid = $1::text::regclass ORDER BY i.relname

-- name: rebuild_create --
-- An empty generation table shaped like the live one, without its indexes but its primary
-- key (cheap to keep while loading; engine loaders and the reconciliation look rows up by it).
DROP TABLE IF EXISTS {new};
CREATE TABLE {new} (LIKE {live} INCLUDING ALL EXCLUDING INDEXES);
ALTER TABLE {new} ADD CONSTRAINT {new}_pkey PRIMARY KEY ({key})

-- name: rebuild_insert --
-- Build documents into the new generation (version: this statement's time). After the
-- `built` CTE of the builder. Returns the ids built and whether their text was truncated.
inserted AS (
    INSERT INTO {new} ({columns}, version, position, indexed_at)
    SELECT {columns}, (extract(epoch FROM statement_timestamp()) * 1000000)::bigint,
           nextval('index_position_seq'), clock_timestamp()
    FROM built
    RETURNING {key}
)
SELECT i.{key}, b.truncated FROM inserted i JOIN built b USING ({key})

-- name: rebuild_rows --
-- Rows of the new generation for an engine loading it ({columns}). $1 ids
SELECT {columns} FROM {new} WHERE {key} = ANY($1::uuid[])

-- name: rebuild_newer --
-- Documents the consumer wrote to the live table after we built them: ours go.
DELETE FROM {new} n USING {live} l WHERE n.{key} = l.{key} AND l.version > n.version
RETURNING n.{key} AS id, n.tenant_id

-- name: rebuild_copy --
-- Live documents the new generation lacks (written meanwhile, or newer): copied over.
INSERT INTO {new} SELECT l.* FROM {live} l
WHERE NOT EXISTS (SELECT 1 FROM {new} n WHERE n.{key} = l.{key})
RETURNING {key} AS id, tenant_id

-- name: rebuild_gone --
-- Documents whose source is gone, or not published without drafts. $1 include drafts
DELETE FROM {new} n
WHERE NOT EXISTS (SELECT 1 FROM {source} s WHERE s.id = n.{key} AND ($1 OR s.status = 'published'))
RETURNING n.{key} AS id, n.tenant_id

-- name: rebuild_dropped --
-- Live documents the new generation drops (the engines must delete them).
SELECT l.{key} AS id, l.tenant_id FROM {live} l
WHERE NOT EXISTS (SELECT 1 FROM {new} n WHERE n.{key} = l.{key})

-- name: rebuild_swap --
-- The new generation becomes the live table (the caller holds ACCESS EXCLUSIVE on it).
ALTER TABLE {live} RENAME TO {old};
ALTER TABLE {new} RENAME TO {live};
DROP TABLE {old}
