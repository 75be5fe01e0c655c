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
-- rustok_capture_install(table, ...) generates one trigger function per table and operation
-- with the table's columns written out (static SQL: PostgreSQL plans it once per session,
-- where a generic function building its query per statement cost ~1 ms more per statement)
-- and creates the triggers, on the partitions of a partitioned table too. A migration that
-- adds or renames a column of a captured table calls it again for that table (an UPDATE of
-- a column unknown to the generated function is not compared). Its arguments: the tenant
-- column, the column whose value leads to the documents (the fan-out key: a price's
-- variant_id, a tag link's target_id), the column telling what kind of target that key is
-- ('' when there is one kind), and the primary key columns (pairing old and new rows of an
-- UPDATE). The payload is the envelope core_write writes: {id, tenant_id, timestamp,
-- event: {type: RowChanged, table, op, kind, keys, changed}}.

CREATE FUNCTION rustok_capture_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('rustok.capture', true) = 'off' THEN
        RETURN NULL;
    END IF;
    -- every tenant may have lost rows: one tenant-wide record each (the tenants of the index
    -- tables too, since truncating tenants empties that table as well)
    INSERT INTO outbox (event_id, tenant_id, aggregate_type, aggregate_id, event_type, payload)
    SELECT e.id, t.tenant_id, 'row', t.tenant_id, 'RowChanged',
           jsonb_build_object('id', e.id, 'tenant_id', t.tenant_id,
                              'timestamp', clock_timestamp(),
                              'event', jsonb_build_object(
                                  'type', 'RowChanged', 'table', TG_ARGV[0], 'op', 'truncate',
                                  'kind', NULL, 'keys', '[]'::jsonb, 'changed', '[]'::jsonb))
    FROM (SELECT id AS tenant_id FROM tenants
          UNION SELECT tenant_id FROM index_products
          UNION SELECT tenant_id FROM index_content) t
    CROSS JOIN LATERAL (SELECT gen_random_uuid() AS id) e;
    PERFORM pg_notify('rustok_outbox', '');
    RETURN NULL;
END $$;

CREATE FUNCTION rustok_capture_install(tbl text, tenant_col text, key_col text, kind_col text,
                                       pk text[]) RETURNS void LANGUAGE plpgsql AS $gen$
DECLARE
    chunk CONSTANT int := 500;  -- keys per outbox row
    kind_n text := CASE WHEN kind_col = '' THEN 'NULL::text' ELSE format('n.%I::text', kind_col)
                   END;
    kind_o text := CASE WHEN kind_col = '' THEN 'NULL::text' ELSE format('o.%I::text', kind_col)
                   END;
    cols text[];  -- the columns an UPDATE compares: bit i-1 of a row's mask is cols[i]
    mask text;
    op record;
    target text;
BEGIN
    SELECT array_agg(attname::text ORDER BY attnum) INTO cols
    FROM pg_attribute
    WHERE attrelid = tbl::regclass AND attnum > 0 AND NOT attisdropped
      AND attname NOT IN ('updated_at', 'use_count', 'node_count');
    IF cardinality(cols) > 62 THEN
        RAISE EXCEPTION 'capture: % has more than 62 columns to compare', tbl;
    END IF;
    SELECT string_agg(format('(CASE WHEN n.%I IS DISTINCT FROM o.%I THEN %s ELSE 0 END)',
                             c, c, 1::bigint << (i::int - 1)), ' | ')
    INTO mask FROM unnest(cols) WITH ORDINALITY AS u(c, i);
    FOR op IN SELECT * FROM (VALUES
        ('insert', 'INSERT', 'REFERENCING NEW TABLE AS new_rows',
         format('SELECT n.%I, n.%I, %s, 0::bigint FROM new_rows n', tenant_col, key_col,
                kind_n)),
        ('delete', 'DELETE', 'REFERENCING OLD TABLE AS old_rows',
         format('SELECT o.%I, o.%I, %s, 0::bigint FROM old_rows o', tenant_col, key_col,
                kind_o)),
        -- Pair old and new rows by primary key and give each pair a bit mask of the columns
        -- it changed (plain comparisons: the statement may hold 100k rows). A pair whose key
        -- changed pairs with nothing and counts as changed in every column. Pairs that
        -- changed nothing but bookkeeping no document reads (updated_at, and the counters
        -- the row triggers of 0001 keep with one UPDATE per linked row) are skipped. Both
        -- the old and the new row's fan-out key are recorded.
        ('update', 'UPDATE', 'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows',
         format($q$WITH pairs AS (
                    SELECT n.%1$I AS n_tenant, n.%2$I AS n_key, %3$s AS n_kind,
                           o.%1$I AS o_tenant, o.%2$I AS o_key, %4$s AS o_kind,
                           CASE WHEN n.%5$I IS NULL OR o.%5$I IS NULL THEN -1::bigint
                                ELSE %6$s END AS mask
                    FROM new_rows n FULL JOIN old_rows o ON %7$s)
                SELECT n_tenant, n_key, n_kind, mask FROM pairs WHERE mask <> 0
                UNION ALL
                SELECT o_tenant, o_key, o_kind, mask FROM pairs
                WHERE mask <> 0
                  AND (o_tenant, o_key, o_kind) IS DISTINCT FROM (n_tenant, n_key, n_kind)$q$,
                tenant_col, key_col, kind_n, kind_o, pk[1], COALESCE(mask, '0'),
                (SELECT string_agg(format('o.%1$I = n.%1$I', c), ' AND ')
                 FROM unnest(pk) AS c)))
    ) AS v(name, event, referencing, source)
    LOOP
        EXECUTE format($tpl$
            CREATE OR REPLACE FUNCTION %1$I() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
                IF current_setting('rustok.capture', true) = 'off' THEN
                    RETURN NULL;
                END IF;
                WITH src (tenant_id, key, kind, mask) AS (%2$s),
                numbered AS (
                    SELECT tenant_id, kind, key, mask,
                           (dense_rank() OVER (PARTITION BY tenant_id, kind ORDER BY key) - 1)
                               / %3$s AS part
                    FROM src WHERE key IS NOT NULL AND tenant_id IS NOT NULL),
                events AS (
                    SELECT gen_random_uuid() AS id, tenant_id, kind,
                           array_agg(DISTINCT key) AS keys, bit_or(mask) AS mask
                    FROM numbered GROUP BY tenant_id, kind, part)
                INSERT INTO outbox (event_id, tenant_id, aggregate_type, aggregate_id,
                                    event_type, payload)
                SELECT id, tenant_id, 'row', keys[1], 'RowChanged',
                       jsonb_build_object('id', id, 'tenant_id', tenant_id,
                                          'timestamp', clock_timestamp(),
                                          'event', jsonb_build_object(
                                              'type', 'RowChanged', 'table', %4$L, 'op', %5$L,
                                              'kind', kind, 'keys', to_jsonb(keys),
                                              'changed', to_jsonb(ARRAY(
                                                  SELECT c FROM unnest(%6$L::text[])
                                                      WITH ORDINALITY AS u(c, i)
                                                  WHERE mask & (1::bigint << (i::int - 1))
                                                        <> 0))))
                FROM events;
                PERFORM pg_notify('rustok_outbox', '');
                RETURN NULL;
            END $fn$$tpl$,
            'rustok_capture_' || tbl || '_' || op.name, op.source, chunk, tbl, op.name, cols);
        -- a statement trigger on a partitioned table fires only for statements naming it:
        -- its partitions get their own, for writes that name a partition
        FOR target IN SELECT tbl UNION ALL
                      SELECT c.relname::text FROM pg_inherits i
                      JOIN pg_class c ON c.oid = i.inhrelid
                      WHERE i.inhparent = tbl::regclass
        LOOP
            EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I',
                           'trg_capture_' || left(op.name, 3), target);
            EXECUTE format('CREATE TRIGGER %I AFTER %s ON %I %s FOR EACH STATEMENT '
                           'EXECUTE FUNCTION %I()', 'trg_capture_' || left(op.name, 3),
                           op.event, target, op.referencing,
                           'rustok_capture_' || tbl || '_' || op.name);
        END LOOP;
    END LOOP;
    FOR target IN SELECT tbl UNION ALL
                  SELECT c.relname::text FROM pg_inherits i
                  JOIN pg_class c ON c.oid = i.inhrelid
                  WHERE i.inhparent = tbl::regclass
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS trg_capture_trunc ON %I', target);
        EXECUTE format('CREATE TRIGGER trg_capture_trunc AFTER TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION rustok_capture_truncate(%L)',
                       target, tbl);
    END LOOP;
END $gen$;

SELECT rustok_capture_install(tbl, tenant_col, key_col, kind_col, string_to_array(pk, ','))
FROM (VALUES
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
    ('commerce_variant_inventory', 'tenant_id', 'variant_id', '', 'variant_id,inventory_item_id')
) AS v(tbl, tenant_col, key_col, kind_col, pk);
