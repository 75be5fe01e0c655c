-- Change capture for writers outside core_write (psql, migration scripts, another service):
-- every INSERT, UPDATE, DELETE and TRUNCATE on a table a document reads writes `RowChanged`
-- outbox rows in the writer's own transaction, so a committed change always has its record
-- and a rolled-back one never does. The indexer maps them to documents with the fan-out rules
-- of the domain events (indexer/fanout.py).
--
-- Statement-level triggers with transition tables: a 100k-row UPDATE writes one outbox row
-- per tenant (and target kind) per CHUNK keys, not 100k rows. core_write already emits domain
-- events, so each of its units sets `rustok.capture = off` for its transaction and the
-- triggers return at once. Writes that fire no trigger (COPY or any write under
-- session_replication_role = replica) are found by `verify` (README: Writers outside
-- core_write). Tables no document reads (media, orders, stock locations, modules) have none.
--
-- Arguments of each trigger: the table's name (a partition's trigger names its parent), the
-- tenant column, the column whose value leads to the documents (the fan-out key: a price's
-- variant_id, a tag link's target_id), the column telling what kind of target that key is
-- ('' when the table has one), and the primary key columns (pairing old and new rows of an
-- UPDATE). The payload is the envelope core_write would write: {id, tenant_id, timestamp,
-- event: {type: RowChanged, table, op, kind, keys, changed}}.

CREATE FUNCTION rustok_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    chunk CONSTANT int := 500;  -- keys per outbox row
    tbl text := TG_ARGV[0];
    tenant_col text := TG_ARGV[1];
    key_col text := TG_ARGV[2];
    kind text := CASE WHEN TG_ARGV[3] = '' THEN 'NULL::text' ELSE format('%I::text', TG_ARGV[3])
                 END;
    source text;
BEGIN
    IF current_setting('rustok.capture', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        -- every tenant may have lost rows: one tenant-wide record each (the tenants of the
        -- index tables too, since truncating tenants empties that table as well)
        INSERT INTO outbox (event_id, tenant_id, aggregate_type, aggregate_id, event_type,
                            payload)
        SELECT e.id, t.tenant_id, 'row', t.tenant_id, 'RowChanged',
               jsonb_build_object('id', e.id, 'tenant_id', t.tenant_id,
                                  'timestamp', clock_timestamp(),
                                  'event', jsonb_build_object(
                                      'type', 'RowChanged', 'table', tbl, 'op', 'truncate',
                                      'kind', NULL, 'keys', '[]'::jsonb,
                                      'changed', '[]'::jsonb))
        FROM (SELECT id AS tenant_id FROM tenants
              UNION SELECT tenant_id FROM index_products
              UNION SELECT tenant_id FROM index_content) t
        CROSS JOIN LATERAL (SELECT gen_random_uuid() AS id) e;
        PERFORM pg_notify('rustok_outbox', '');
        RETURN NULL;
    END IF;

    IF TG_OP = 'INSERT' THEN
        source := format('SELECT %I AS tenant_id, %I AS key, %s AS kind, NULL::text[] AS changed '
                         'FROM new_rows', tenant_col, key_col, kind);
    ELSIF TG_OP = 'DELETE' THEN
        source := format('SELECT %I AS tenant_id, %I AS key, %s AS kind, NULL::text[] AS changed '
                         'FROM old_rows', tenant_col, key_col, kind);
    ELSE
        -- pair old and new rows by primary key (a row whose key changed pairs with nothing
        -- and counts as changed in every column); skip rows where nothing changed but
        -- bookkeeping no document reads (updated_at, and the counters the row triggers of
        -- 0001 keep, one UPDATE per linked row); record the fan-out key of old and new row
        source := format(
            $q$SELECT (v.j->>%1$L)::uuid AS tenant_id, (v.j->>%2$L)::uuid AS key,
                      v.j->>%3$L AS kind, c.changed
               FROM (SELECT to_jsonb(n) AS nj, to_jsonb(o) AS oj
                     FROM new_rows n FULL JOIN old_rows o ON %4$s) p
               CROSS JOIN LATERAL (
                   SELECT array_agg(e.key ORDER BY e.key) AS changed
                   FROM jsonb_each(COALESCE(p.nj, p.oj)) e
                   WHERE e.key NOT IN ('updated_at', 'use_count', 'node_count')
                     AND (p.nj IS NULL OR p.oj IS NULL OR e.value IS DISTINCT FROM p.oj -> e.key)
               ) c
               CROSS JOIN LATERAL (SELECT p.nj UNION SELECT p.oj) v(j)
               WHERE c.changed IS NOT NULL AND v.j IS NOT NULL$q$,
            tenant_col, key_col, COALESCE(NULLIF(TG_ARGV[3], ''), '-'),
            (SELECT string_agg(format('o.%1$I = n.%1$I', col), ' AND ')
             FROM unnest(string_to_array(TG_ARGV[4], ',')) AS col));
    END IF;

    EXECUTE format(
        $q$WITH src AS (%s),
           numbered AS (
               SELECT tenant_id, kind, key, changed,
                      (dense_rank() OVER (PARTITION BY tenant_id, kind ORDER BY key) - 1) / %s
                          AS part
               FROM src WHERE key IS NOT NULL AND tenant_id IS NOT NULL),
           parts AS (
               SELECT tenant_id, kind, part, array_agg(DISTINCT key) AS keys
               FROM numbered GROUP BY tenant_id, kind, part),
           cols AS (
               SELECT tenant_id, kind, part, array_agg(DISTINCT col) AS changed
               FROM numbered CROSS JOIN LATERAL unnest(changed) AS col
               GROUP BY tenant_id, kind, part),
           events AS (
               SELECT gen_random_uuid() AS id, p.tenant_id, p.kind, p.keys,
                      COALESCE(c.changed, '{}') AS changed
               FROM parts p LEFT JOIN cols c
                   ON c.tenant_id = p.tenant_id AND c.kind IS NOT DISTINCT FROM p.kind
                  AND c.part = p.part)
           INSERT INTO outbox (event_id, tenant_id, aggregate_type, aggregate_id, event_type,
                               payload)
           SELECT id, tenant_id, 'row', keys[1], 'RowChanged',
                  jsonb_build_object('id', id, 'tenant_id', tenant_id,
                                     'timestamp', clock_timestamp(),
                                     'event', jsonb_build_object(
                                         'type', 'RowChanged', 'table', $1, 'op', $2,
                                         'kind', kind, 'keys', to_jsonb(keys),
                                         'changed', to_jsonb(changed)))
           FROM events$q$, source, chunk)
    USING tbl, lower(TG_OP);
    PERFORM pg_notify('rustok_outbox', '');
    RETURN NULL;
END $$;

DO $$
DECLARE
    t record;
    target text;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('tenants', 'id', 'id', '', 'id'),
        ('users', 'tenant_id', 'id', '', 'id'),
        ('categories', 'tenant_id', 'id', '', 'id'),
        ('nodes', 'tenant_id', 'id', '', 'tenant_id,id'),
        ('bodies', 'tenant_id', 'node_id', '', 'tenant_id,node_id'),
        ('tags', 'tenant_id', 'id', '', 'id'),
        ('taggables', 'tenant_id', 'target_id', 'target_type', 'tag_id,target_type,target_id'),
        ('meta', 'tenant_id', 'target_id', 'target_type', 'id'),
        ('commerce_products', 'tenant_id', 'id', '', 'id'),
        ('commerce_variants', 'tenant_id', 'product_id', '', 'id'),
        ('commerce_options', 'tenant_id', 'product_id', '', 'id'),
        ('commerce_option_values', 'tenant_id', 'option_id', '', 'id'),
        ('commerce_variant_options', 'tenant_id', 'variant_id', '', 'variant_id,option_value_id'),
        ('commerce_prices', 'tenant_id', 'variant_id', '', 'id'),
        ('commerce_categories', 'tenant_id', 'id', '', 'id'),
        ('commerce_product_categories', 'tenant_id', 'product_id', '', 'product_id,category_id'),
        ('commerce_inventory_items', 'tenant_id', 'id', '', 'id'),
        ('commerce_inventory_levels', 'tenant_id', 'inventory_item_id', '', 'id'),
        ('commerce_variant_inventory', 'tenant_id', 'variant_id', '',
         'variant_id,inventory_item_id')
    ) AS v(tbl, tenant_col, key_col, kind_col, pk)
    LOOP
        -- a statement trigger on a partitioned table fires only for statements naming it:
        -- its partitions get their own, for writes that name a partition
        FOR target IN SELECT t.tbl UNION ALL
                      SELECT c.relname::text FROM pg_inherits i
                      JOIN pg_class c ON c.oid = i.inhrelid
                      WHERE i.inhparent = t.tbl::regclass
        LOOP
            EXECUTE format('CREATE TRIGGER trg_capture_ins AFTER INSERT ON %I '
                           'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
                           'EXECUTE FUNCTION rustok_capture(%L, %L, %L, %L, %L)',
                           target, t.tbl, t.tenant_col, t.key_col, t.kind_col, t.pk);
            EXECUTE format('CREATE TRIGGER trg_capture_upd AFTER UPDATE ON %I '
                           'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                           'FOR EACH STATEMENT '
                           'EXECUTE FUNCTION rustok_capture(%L, %L, %L, %L, %L)',
                           target, t.tbl, t.tenant_col, t.key_col, t.kind_col, t.pk);
            EXECUTE format('CREATE TRIGGER trg_capture_del AFTER DELETE ON %I '
                           'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT '
                           'EXECUTE FUNCTION rustok_capture(%L, %L, %L, %L, %L)',
                           target, t.tbl, t.tenant_col, t.key_col, t.kind_col, t.pk);
            EXECUTE format('CREATE TRIGGER trg_capture_trunc AFTER TRUNCATE ON %I '
                           'FOR EACH STATEMENT '
                           'EXECUTE FUNCTION rustok_capture(%L, %L, %L, %L, %L)',
                           target, t.tbl, t.tenant_col, t.key_col, t.kind_col, t.pk);
        END LOOP;
    END LOOP;
END $$;
