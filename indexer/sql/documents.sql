-- name: build_products --
-- The product documents of $1 (product ids) built from the current source rows, one row per
-- existing product ($2: include unpublished products). Composed into the write and verify
-- statements by indexer/documents.py. Searchable text is bounded whoever wrote the row (a
-- tsvector holds at most 1 MB; see README, indexing): the description to 100 000 characters,
-- the short texts (subtitle, tags, category names, option values) to 10 000 per weight;
-- `truncated` says so. Weights: the tenant's field tiers (search_settings.product_weights, one
-- letter A/B/C per field in the order of indexer.model.relevance.ProductWeights: title,
-- subtitle, tags, categories, options, description, meta), by default A the title, B the
-- short texts, C the description and the meta title and description. The vector keeps one
-- layout whatever the weights (a tier without a field adds nothing), so the default weights
-- build what they built before the tiers were a setting.
-- `words` are the words of that text for the tenant's vocabulary (`write_words`).
-- Card fields: the thumbnail, the variants' SKUs (by variant position),
-- the option values some variant carries (`options` [{option, values}] by option and value
-- position, flat as `option_values` "Option:value" for facets and filters) and the
-- identifiers a whole query matches exactly (handle, SKUs, barcodes, lowercased).
SELECT p.id AS product_id, p.tenant_id, p.title, p.subtitle, p.handle,
           left(p.description, 100000) AS description, p.thumbnail,
           COALESCE(va.skus, '{}') AS skus, COALESCE(op.options, '[]'::jsonb) AS options,
           COALESCE(string_to_array(array_to_string(op.flats, E'\x1f'), E'\x1f'), '{}')
               AS option_values,
           ARRAY(SELECT DISTINCT lower(i)
                 FROM unnest(ARRAY[p.handle] || COALESCE(va.skus, '{}')
                             || COALESCE(va.barcodes, '{}')) AS i
                 ORDER BY 1) AS identifiers,
           p.status, COALESCE(pr.prices, '{}'::jsonb) AS prices,
           COALESCE(pr.currencies, '{}') AS currencies,
           COALESCE(st.total_stock, 0) AS total_stock, COALESCE(st.has_stock, false) AS has_stock,
           COALESCE(ca.categories, '[]'::jsonb) AS categories,
           COALESCE(ca.category_ids, '{}') AS category_ids,
           COALESCE(tg.tags, '{}') AS tags, COALESCE(tg.tag_ids, '{}') AS tag_ids,
           m.title AS meta_title, m.description AS meta_description,
           setweight(to_tsvector(lang.cfg, p.title), substr(tx.w, 1, 1)::"char")
             -- a weight without text is NULL and adds nothing (not even an evaluation of
             -- lang.cfg, a subquery run per use); joined apart first: || copies its left side
             || (CASE WHEN tx.related_a IS NULL THEN ''
                      ELSE setweight(to_tsvector(lang.cfg, left(tx.related_a, 10000)), 'A') END
                 || CASE WHEN tx.related_b IS NULL THEN ''
                         ELSE setweight(to_tsvector(lang.cfg, left(tx.related_b, 10000)), 'B') END
                 || CASE WHEN tx.related_c IS NULL THEN ''
                         ELSE setweight(to_tsvector(lang.cfg, left(tx.related_c, 10000)), 'C') END)
             || setweight(to_tsvector(lang.cfg, COALESCE(left(p.description, 100000), '')),
                          substr(tx.w, 6, 1)::"char")
             || setweight(to_tsvector(lang.cfg, concat_ws(' ', m.title, m.description)),
                          substr(tx.w, 7, 1)::"char")
             AS search_vector,
           rustok_words(concat_ws(' ', p.title, left(tx.related_a, 10000),
                                  left(tx.related_b, 10000), left(tx.related_c, 10000),
                                  left(p.description, 100000), m.title, m.description))
             AS words,
           p.created_at, p.published_at,
           (length(p.description) > 100000 OR COALESCE(greatest(length(tx.related_a),
               length(tx.related_b), length(tx.related_c)), 0) > 10000) AS truncated
    FROM commerce_products p
    JOIN tenants t ON t.id = p.tenant_id
    LEFT JOIN search_settings fw ON fw.tenant_id = p.tenant_id
    CROSS JOIN LATERAL (
        -- OFFSET 0 keeps this a subquery evaluated once per row: pulled up, its lookup
        -- would run again for each of the four vectors below
        SELECT COALESCE((SELECT c.oid::regconfig FROM pg_ts_config c
                         WHERE c.cfgname = t.settings->>'language'), 'simple'::regconfig) AS cfg
        OFFSET 0
    ) lang
    LEFT JOIN LATERAL (
        SELECT jsonb_object_agg(x.currency_code, jsonb_build_object('min', x.lo, 'max', x.hi))
                   AS prices,
               array_agg(x.currency_code ORDER BY x.currency_code) AS currencies
        FROM (SELECT pc.currency_code::text AS currency_code, min(pc.amount) AS lo,
                     max(pc.amount) AS hi
              FROM commerce_variants v JOIN commerce_prices pc ON pc.variant_id = v.id
              WHERE v.product_id = p.id AND pc.price_list_id IS NULL AND pc.min_quantity = 1
              GROUP BY pc.currency_code) x
    ) pr ON true
    LEFT JOIN LATERAL (
        -- a variant's availability is what its scarcest inventory item allows; counts are
        -- summed as bigint and capped at the INT maximum (levels at several locations, or
        -- several variants, can add up beyond it; LEAST would turn "none" into the cap)
        SELECT CASE WHEN sum(GREATEST(va.available, 0)) FILTER (WHERE va.manage_inventory)
                         > 2147483647 THEN 2147483647
                    ELSE sum(GREATEST(va.available, 0)) FILTER (WHERE va.manage_inventory)
               END::int AS total_stock,
               bool_or(NOT va.manage_inventory OR va.allow_backorder OR va.available > 0)
                   AS has_stock
        FROM (
            SELECT v.manage_inventory, v.allow_backorder,
                   COALESCE((SELECT CASE WHEN min(lv.avail / vi.required_quantity)
                                              > 2147483647 THEN 2147483647
                                         ELSE min(lv.avail / vi.required_quantity) END
                             FROM commerce_variant_inventory vi
                             CROSS JOIN LATERAL (
                                 SELECT COALESCE(sum(l.stocked_quantity - l.reserved_quantity), 0)
                                        AS avail
                                 FROM commerce_inventory_levels l
                                 WHERE l.inventory_item_id = vi.inventory_item_id) lv
                             WHERE vi.variant_id = v.id), 0) AS available
            FROM commerce_variants v WHERE v.product_id = p.id
            OFFSET 0  -- not pulled up: `available` is used three times, computed once
        ) va
    ) st ON true
    LEFT JOIN LATERAL (
        SELECT jsonb_agg(jsonb_build_object('id', c.id, 'name', c.name, 'handle', c.handle)
                         ORDER BY c.name, c.id) AS categories,
               array_agg(c.id ORDER BY c.name, c.id) AS category_ids,
               string_agg(c.name, ' ' ORDER BY c.name, c.id) AS names
        FROM commerce_product_categories pc
        JOIN commerce_categories c ON c.id = pc.category_id
        WHERE pc.product_id = p.id AND c.is_active AND NOT c.is_internal
    ) ca ON true
    LEFT JOIN LATERAL (
        SELECT array_agg(tg.name::text ORDER BY tg.name, tg.id) AS tags,
               array_agg(tg.id ORDER BY tg.name, tg.id) AS tag_ids
        FROM taggables ta JOIN tags tg ON tg.id = ta.tag_id
        WHERE ta.tenant_id = p.tenant_id AND ta.target_type = 'product' AND ta.target_id = p.id
    ) tg ON true
    LEFT JOIN LATERAL (
        SELECT array_agg(v.sku ORDER BY v.position, v.id) FILTER (WHERE v.sku IS NOT NULL)
                   AS skus,
               array_agg(v.barcode ORDER BY v.position, v.id)
                   FILTER (WHERE v.barcode IS NOT NULL) AS barcodes
        FROM commerce_variants v WHERE v.product_id = p.id
    ) va ON true
    LEFT JOIN LATERAL (
        SELECT jsonb_agg(jsonb_build_object('option', g.title, 'values', g.vals)
                         ORDER BY g.position, g.title, g.id) AS options,
               array_agg(g.flats ORDER BY g.position, g.title, g.id) AS flats,
               string_agg(g.words, ' ' ORDER BY g.position, g.title, g.id) AS words
        FROM (SELECT o.id, o.title, o.position,
                     jsonb_agg(ov.value ORDER BY ov.position, ov.value) AS vals,
                     string_agg(o.title || ':' || ov.value, E'\x1f'
                                ORDER BY ov.position, ov.value) AS flats,
                     string_agg(ov.value, ' ' ORDER BY ov.position, ov.value) AS words
              FROM commerce_options o
              JOIN commerce_option_values ov ON ov.option_id = o.id
              WHERE o.product_id = p.id
                AND EXISTS (SELECT 1 FROM commerce_variant_options vo
                            WHERE vo.option_value_id = ov.id)
              GROUP BY o.id, o.title, o.position) g
    ) op ON true
    -- a lookup per product: as a join, the generic plan of a prepared statement (what the
    -- indexer runs after five executions) hashed the whole meta table for every batch
    LEFT JOIN LATERAL (
        SELECT m.title, m.description FROM meta m
        WHERE m.tenant_id = p.tenant_id AND m.target_type = 'product' AND m.target_id = p.id
        OFFSET 0
    ) m ON true
    CROSS JOIN LATERAL (
        -- the short texts of each weight (NULL: none), in one order
        SELECT f.w,
               NULLIF(concat_ws(' ', CASE f.subtitle_w WHEN 'A' THEN p.subtitle END,
                                CASE f.tags_w WHEN 'A' THEN f.tags END,
                                CASE f.categories_w WHEN 'A' THEN ca.names END,
                                CASE f.options_w WHEN 'A' THEN op.words END), '') AS related_a,
               NULLIF(concat_ws(' ', CASE f.subtitle_w WHEN 'B' THEN p.subtitle END,
                                CASE f.tags_w WHEN 'B' THEN f.tags END,
                                CASE f.categories_w WHEN 'B' THEN ca.names END,
                                CASE f.options_w WHEN 'B' THEN op.words END), '') AS related_b,
               NULLIF(concat_ws(' ', CASE f.subtitle_w WHEN 'C' THEN p.subtitle END,
                                CASE f.tags_w WHEN 'C' THEN f.tags END,
                                CASE f.categories_w WHEN 'C' THEN ca.names END,
                                CASE f.options_w WHEN 'C' THEN op.words END), '') AS related_c
        FROM (SELECT w.w, substr(w.w, 2, 1) AS subtitle_w, substr(w.w, 3, 1) AS tags_w,
                     substr(w.w, 4, 1) AS categories_w, substr(w.w, 5, 1) AS options_w,
                     array_to_string(tg.tags, ' ') AS tags
              FROM (SELECT COALESCE(fw.product_weights, 'ABBBBCC') AS w) w) f
    ) tx
    WHERE p.id = ANY($1::uuid[]) AND ($2 OR p.status = 'published')

-- name: write_words --
-- After a `built` CTE: the words of the documents into their tenant's vocabulary (typo and
-- prefix matching, migrations/0019_search_words.sql), in the transaction of the index rows.
-- Inserted in one global order, so two writers that share new words never deadlock; a word
-- already known is left alone. {doc_type}: the document type (a validated name).
words AS (
    INSERT INTO search_words (tenant_id, doc_type, word)
    SELECT DISTINCT b.tenant_id, '{doc_type}', w FROM built b, unnest(b.words) AS w
    ORDER BY 1, 3
    ON CONFLICT DO NOTHING
)

-- name: write_products --
-- After `ids` (id, event_time) and `built` CTEs: versioned upsert into index_products (an
-- older build never replaces a newer one), delete of documents whose source is gone (or not
-- published when drafts are not indexed), and the changes queued for the engines ($3): the
-- placeholder is indexer.engine_queue's INSERT of `changed`.
up AS (
    INSERT INTO index_products AS ip (
        product_id, tenant_id, title, subtitle, handle, description, status, prices, currencies,
        total_stock, has_stock, categories, category_ids, tags, tag_ids, meta_title,
        meta_description, search_vector, created_at, published_at, thumbnail, skus, options,
        option_values, identifiers, version, position, indexed_at)
    SELECT product_id, tenant_id, title, subtitle, handle, description, status, prices,
           currencies, total_stock, has_stock, categories, category_ids, tags, tag_ids,
           meta_title, meta_description, search_vector, created_at, published_at,
           thumbnail, skus, options, option_values, identifiers,
           (extract(epoch FROM statement_timestamp()) * 1000000)::bigint,
           nextval('index_position_seq'), clock_timestamp()
    FROM built
    ON CONFLICT (product_id) DO UPDATE SET
        tenant_id = EXCLUDED.tenant_id, title = EXCLUDED.title, subtitle = EXCLUDED.subtitle,
        handle = EXCLUDED.handle, description = EXCLUDED.description, status = EXCLUDED.status,
        prices = EXCLUDED.prices, currencies = EXCLUDED.currencies,
        total_stock = EXCLUDED.total_stock, has_stock = EXCLUDED.has_stock,
        categories = EXCLUDED.categories, category_ids = EXCLUDED.category_ids,
        tags = EXCLUDED.tags, tag_ids = EXCLUDED.tag_ids, meta_title = EXCLUDED.meta_title,
        meta_description = EXCLUDED.meta_description, search_vector = EXCLUDED.search_vector,
        created_at = EXCLUDED.created_at, published_at = EXCLUDED.published_at,
        thumbnail = EXCLUDED.thumbnail, skus = EXCLUDED.skus, options = EXCLUDED.options,
        option_values = EXCLUDED.option_values, identifiers = EXCLUDED.identifiers,
        version = EXCLUDED.version, position = EXCLUDED.position,
        indexed_at = EXCLUDED.indexed_at
    WHERE ip.version <= EXCLUDED.version
    RETURNING ip.product_id, ip.tenant_id
),
gone AS (
    DELETE FROM index_products ip
    WHERE ip.product_id IN (SELECT id FROM ids)
      AND NOT EXISTS (SELECT 1 FROM built b WHERE b.product_id = ip.product_id)
    RETURNING ip.product_id, ip.tenant_id
),
changed AS (
    SELECT 'product' AS doc_type, c.doc_id, c.tenant_id, ids.event_time
    FROM (SELECT product_id AS doc_id, tenant_id FROM up
          UNION ALL SELECT product_id, tenant_id FROM gone) c JOIN ids ON ids.id = c.doc_id
),
queued AS ({enqueue_changed} RETURNING 1)
SELECT (SELECT count(*) FROM up) AS upserted, (SELECT count(*) FROM gone) AS deleted,
       (SELECT count(*) FROM queued) AS queued,
       ARRAY(SELECT product_id FROM built WHERE truncated) AS truncated

-- name: build_content --
-- The content documents of $1 (node ids) built from the current source rows ($2: include
-- unpublished nodes). Bounded like products: excerpt and body feed all of their text up to
-- 330 000 bytes together (what core_write accepts: 64 KiB + 256 KiB; at most ~2.4 bytes of
-- tsvector per byte), a longer text its first 100 000 characters; tags and category name
-- 10 000 characters per weight. Weights: the tenant's field tiers
-- (search_settings.content_weights, in the order of indexer.model.relevance.ContentWeights:
-- title, excerpt, tags, category, body, author, meta), by default A the title; B the tags,
-- category name and excerpt; C the body, the author's name and the meta title and
-- description. One layout whatever the weights, as for products.
SELECT n.id AS node_id, n.tenant_id, n.kind, n.title, n.slug,
           left(n.excerpt, 100000) AS excerpt,
           left(b.body, 500) AS body_preview, n.status, n.author_id,
           COALESCE(u.display_name, u.email) AS author_name, n.category_id,
           c.name AS category_name, c.slug AS category_slug,
           COALESCE(tg.tags, '{}') AS tags, COALESCE(tg.tag_ids, '{}') AS tag_ids,
           n.parent_id, n.reply_count, m.title AS meta_title, m.description AS meta_description,
           setweight(to_tsvector(lang.cfg, COALESCE(n.title, '')), substr(tx.w, 1, 1)::"char")
             -- a weight without text is NULL and adds nothing (not even an evaluation of
             -- lang.cfg, a subquery run per use); joined apart first: || copies its left side
             || (CASE WHEN tx.related_a IS NULL THEN ''
                      ELSE setweight(to_tsvector(lang.cfg, left(tx.related_a, 10000)), 'A') END
                 || CASE WHEN tx.related_b IS NULL THEN ''
                         ELSE setweight(to_tsvector(lang.cfg, left(tx.related_b, 10000)), 'B') END
                 || CASE WHEN tx.related_c IS NULL THEN ''
                         ELSE setweight(to_tsvector(lang.cfg, left(tx.related_c, 10000)), 'C') END)
             -- the bounded text, excerpt first, then the body
             || setweight(to_tsvector(lang.cfg, COALESCE(left(n.excerpt, tx.bound), '')),
                          substr(tx.w, 2, 1)::"char")
             || setweight(to_tsvector(lang.cfg, COALESCE(left(b.body, CASE
                    WHEN n.excerpt IS NULL THEN tx.bound
                    ELSE greatest(tx.bound - length(n.excerpt) - 1, 0) END), '')),
                          substr(tx.w, 5, 1)::"char")
             || (CASE WHEN tx.more_a IS NULL THEN ''
                      ELSE setweight(to_tsvector(lang.cfg, tx.more_a), 'A') END
                 || CASE WHEN tx.more_b IS NULL THEN ''
                         ELSE setweight(to_tsvector(lang.cfg, tx.more_b), 'B') END
                 || CASE WHEN tx.more_c IS NULL THEN ''
                         ELSE setweight(to_tsvector(lang.cfg, tx.more_c), 'C') END)
             AS search_vector,
           rustok_words(concat_ws(' ', n.title, left(tx.related_a, 10000),
                                  left(tx.related_b, 10000), left(tx.related_c, 10000),
                                  left(tx.text, tx.bound), tx.more_a, tx.more_b, tx.more_c))
             AS words,
           n.published_at, n.created_at,
           (length(tx.text) > tx.bound OR COALESCE(greatest(length(tx.related_a),
               length(tx.related_b), length(tx.related_c)), 0) > 10000) AS truncated
    FROM nodes n
    JOIN tenants t ON t.id = n.tenant_id
    LEFT JOIN search_settings fw ON fw.tenant_id = n.tenant_id
    CROSS JOIN LATERAL (
        SELECT COALESCE((SELECT cf.oid::regconfig FROM pg_ts_config cf
                         WHERE cf.cfgname = t.settings->>'language'), 'simple'::regconfig) AS cfg
        OFFSET 0  -- once per row, not once per vector (as for products)
    ) lang
    LEFT JOIN bodies b ON b.tenant_id = n.tenant_id AND b.node_id = n.id
    LEFT JOIN users u ON u.tenant_id = n.tenant_id AND u.id = n.author_id
    LEFT JOIN categories c ON c.tenant_id = n.tenant_id AND c.id = n.category_id
    LEFT JOIN LATERAL (
        SELECT array_agg(tg.name::text ORDER BY tg.name, tg.id) AS tags,
               array_agg(tg.id ORDER BY tg.name, tg.id) AS tag_ids
        FROM taggables ta JOIN tags tg ON tg.id = ta.tag_id
        WHERE ta.tenant_id = n.tenant_id AND ta.target_type = 'node' AND ta.target_id = n.id
    ) tg ON true
    LEFT JOIN meta m ON m.tenant_id = n.tenant_id AND m.target_type = 'node' AND m.target_id = n.id
    CROSS JOIN LATERAL (
        -- the short texts (tags, category) and the author and meta texts of each weight
        -- (NULL: none), in one order
        SELECT f.w,
               NULLIF(concat_ws(' ', CASE f.tags_w WHEN 'A' THEN f.tags END,
                                CASE f.category_w WHEN 'A' THEN c.name END), '') AS related_a,
               NULLIF(concat_ws(' ', CASE f.tags_w WHEN 'B' THEN f.tags END,
                                CASE f.category_w WHEN 'B' THEN c.name END), '') AS related_b,
               NULLIF(concat_ws(' ', CASE f.tags_w WHEN 'C' THEN f.tags END,
                                CASE f.category_w WHEN 'C' THEN c.name END), '') AS related_c,
               concat_ws(' ', n.excerpt, b.body) AS text,
               NULLIF(concat_ws(' ', CASE f.author_w WHEN 'A' THEN f.author END,
                                CASE f.meta_w WHEN 'A' THEN f.meta END), '') AS more_a,
               NULLIF(concat_ws(' ', CASE f.author_w WHEN 'B' THEN f.author END,
                                CASE f.meta_w WHEN 'B' THEN f.meta END), '') AS more_b,
               NULLIF(concat_ws(' ', CASE f.author_w WHEN 'C' THEN f.author END,
                                CASE f.meta_w WHEN 'C' THEN f.meta END), '') AS more_c,
               CASE WHEN octet_length(concat_ws(' ', n.excerpt, b.body)) <= 330000
                    THEN 330000 ELSE 100000 END AS bound
        FROM (SELECT w.w, substr(w.w, 3, 1) AS tags_w, substr(w.w, 4, 1) AS category_w,
                     substr(w.w, 6, 1) AS author_w, substr(w.w, 7, 1) AS meta_w,
                     array_to_string(tg.tags, ' ') AS tags,
                     COALESCE(u.display_name, u.email) AS author,
                     NULLIF(concat_ws(' ', m.title, m.description), '') AS meta
              FROM (SELECT COALESCE(fw.content_weights, 'ABBBCCC') AS w) w) f
    ) tx
    WHERE n.id = ANY($1::uuid[]) AND ($2 OR n.status = 'published')

-- name: write_content --
-- The same writes for content nodes, after `ids` and `built` CTEs.
up AS (
    INSERT INTO index_content AS ic (
        node_id, tenant_id, kind, title, slug, excerpt, body_preview, status, author_id,
        author_name, category_id, category_name, category_slug, tags, tag_ids, parent_id,
        reply_count, meta_title, meta_description, search_vector, published_at, created_at,
        version, position, indexed_at)
    SELECT node_id, tenant_id, kind, title, slug, excerpt, body_preview, status, author_id,
           author_name, category_id, category_name, category_slug, tags, tag_ids, parent_id,
           reply_count, meta_title, meta_description, search_vector, published_at, created_at,
           (extract(epoch FROM statement_timestamp()) * 1000000)::bigint,
           nextval('index_position_seq'), clock_timestamp()
    FROM built
    ON CONFLICT (node_id) DO UPDATE SET
        tenant_id = EXCLUDED.tenant_id, kind = EXCLUDED.kind, title = EXCLUDED.title,
        slug = EXCLUDED.slug, excerpt = EXCLUDED.excerpt, body_preview = EXCLUDED.body_preview,
        status = EXCLUDED.status, author_id = EXCLUDED.author_id,
        author_name = EXCLUDED.author_name, category_id = EXCLUDED.category_id,
        category_name = EXCLUDED.category_name, category_slug = EXCLUDED.category_slug,
        tags = EXCLUDED.tags, tag_ids = EXCLUDED.tag_ids, parent_id = EXCLUDED.parent_id,
        reply_count = EXCLUDED.reply_count, meta_title = EXCLUDED.meta_title,
        meta_description = EXCLUDED.meta_description, search_vector = EXCLUDED.search_vector,
        published_at = EXCLUDED.published_at, created_at = EXCLUDED.created_at,
        version = EXCLUDED.version, position = EXCLUDED.position,
        indexed_at = EXCLUDED.indexed_at
    WHERE ic.version <= EXCLUDED.version
    RETURNING ic.node_id, ic.tenant_id
),
gone AS (
    DELETE FROM index_content ic
    WHERE ic.node_id IN (SELECT id FROM ids)
      AND NOT EXISTS (SELECT 1 FROM built b WHERE b.node_id = ic.node_id)
    RETURNING ic.node_id, ic.tenant_id
),
changed AS (
    SELECT 'content' AS doc_type, c.doc_id, c.tenant_id, ids.event_time
    FROM (SELECT node_id AS doc_id, tenant_id FROM up
          UNION ALL SELECT node_id, tenant_id FROM gone) c JOIN ids ON ids.id = c.doc_id
),
queued AS ({enqueue_changed} RETURNING 1)
SELECT (SELECT count(*) FROM up) AS upserted, (SELECT count(*) FROM gone) AS deleted,
       (SELECT count(*) FROM queued) AS queued,
       ARRAY(SELECT node_id FROM built WHERE truncated) AS truncated

-- name: lock_documents --
-- Serialize builders of the same documents until commit, in one global order (no deadlock):
-- the next builder's snapshot then includes what the previous one saw. $1 lock class, $2 ids
SELECT count(pg_advisory_xact_lock($1, k))
FROM (SELECT DISTINCT hashtext(id::text) AS k FROM unnest($2::uuid[]) AS u(id) ORDER BY 1) s
