-- The words of each tenant's searchable text, for typo and prefix matching in PostgreSQL
-- (issue 13; the rules are in indexer/model/text.py and README, "How text matches").
--
-- The tsvector index holds stems in the tenant's language, which a typo or a partial word
-- cannot be compared with. So the indexer keeps, per tenant and document type, the set of
-- words ('simple' parser, lowercase) its documents contain (indexer/sql/documents.sql,
-- in the transaction that writes the index rows), and a search expands each query word
-- into the words within its typo budget (and the last word into the words it starts) before
-- it matches their stems through the GIN index on search_vector as before. A word is never
-- removed when a document stops using it: a stale word only expands a query into a stem
-- that no document has (cost, not correctness). Tenant A's words never expand tenant B's
-- query: every lookup names the tenant.

CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE TABLE search_words (
    tenant_id   UUID NOT NULL,
    doc_type    TEXT NOT NULL,                  -- 'product' | 'content'
    word        TEXT COLLATE "C" NOT NULL,      -- "C": the primary key serves prefix ranges
    PRIMARY KEY (tenant_id, doc_type, word)
);
-- typo candidates keep their first letter (an edit there costs two typos); with two typos
-- allowed the first letter alone may change: substr(word, 2)
CREATE INDEX idx_search_words_tail ON search_words (tenant_id, doc_type, substr(word, 2));
-- by first letter and the end of the word (the primary key serves the start), and for two
-- typos by first letter and a piece of the middle (trigrams)
CREATE INDEX idx_search_words_ends ON search_words
    (tenant_id, doc_type, left(word, 1), reverse(word));
CREATE INDEX idx_search_words_middle ON search_words
    USING GIN (tenant_id, doc_type, left(word, 1), word gin_trgm_ops);

-- the typo branch of 0006 (title trigrams) is replaced by the words above
DROP INDEX IF EXISTS idx_index_products_title_trgm;
DROP INDEX IF EXISTS idx_index_content_title_trgm;

-- The words of a text as search_words keeps them: the 'simple' parser's lowercase words, of
-- letters and digits only, 3 to 48 characters long (shorter ones get no typo and need no
-- completion; longer ones no typo). indexer/sql/documents.sql applies it to the searchable
-- text it builds the search vector from.
CREATE FUNCTION rustok_words(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY(SELECT w FROM unnest(tsvector_to_array(to_tsvector('simple', t))) AS w
                 WHERE length(w) BETWEEN 3 AND 48 AND w ~ '^\w+$')
$$;

CREATE FUNCTION rustok_transpositions(w text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT left(w, i - 1) || substr(w, i + 1, 1) || substr(w, i, 1) || substr(w, i + 2)
    FROM generate_series(1, length(w) - 1) AS i
    WHERE substr(w, i, 1) <> substr(w, i + 1, 1)
$$;

-- Whether a and b are within k (0..2) edits, an edit being an insertion, a deletion, a
-- substitution or the transposition of two adjacent letters (Damerau). fuzzystrmatch's
-- levenshtein counts a transposition as two edits, so a pair it puts beyond k but within 2k
-- is tried again with each transposition of a applied first.
CREATE FUNCTION rustok_within_edits(a text, b text, k int) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT levenshtein_less_equal(a, b, k) <= k
        OR (k >= 1 AND levenshtein_less_equal(a, b, 2 * k) <= 2 * k AND EXISTS (
            SELECT 1 FROM rustok_transpositions(a) AS t
            WHERE levenshtein_less_equal(t, b, k - 1) <= k - 1
               OR (k >= 2 AND EXISTS (SELECT 1 FROM rustok_transpositions(t) AS u
                                      WHERE u = b))))
$$;

-- A tsquery ORing the quoted lexemes `plain` and the quoted prefix `prefix` (or NULL), each
-- limited to the `weights` (e.g. 'AB'; '' for any); NULL without terms. (One expression: it
-- is inlined into the caller.)
CREATE FUNCTION rustok_terms(plain text[], prefix text, weights text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT nullif(concat_ws(' | ',
               CASE WHEN cardinality(plain) > 0
                    THEN array_to_string(plain, ':' || weights || ' | ') || ':' || weights END,
               prefix || ':*' || weights), '')::tsquery
$$;

-- x OR y, either may be NULL
CREATE FUNCTION rustok_either(x tsquery, y tsquery) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN x IS NULL THEN y WHEN y IS NULL THEN x ELSE x || y END
$$;

-- The tsqueries of user text (compiled by search_api/compile_pg.py): `words` are the query
-- words, `budgets` their typo budgets (text.typo_budget), `prefix` whether the last word also
-- matches as a prefix, `first_cost` what an edit of the first letter costs, `alternatives` per
-- word the tsquery text of the tenant's synonyms (`{w}` where the weights go; NULL or '' for
-- none: a word with some matches as typed or as any of them, a synonym counting as a match
-- without a typo; an empty word stands for a position made of its alternatives only). Per
-- word i:
--   whole[i]   its stems in the tenant's language (exact and stem matches);
--   near[i]    whole[i], or for the prefix word also the stems it starts (no typo);
--   one[i]     the stems of the words one typo away; two typos: only in match/title/related;
--   title[i], related[i]: any of the above in the title (weight A) / in weights A or B;
--   near_title[i], near_related[i], one_title[i], one_related[i]: the same for near[i] and
--   one[i] (a word's field is the best field among the stems of its fewest typos).
-- match ANDs the words (each any of its stems), title_match the same in titles only, marks
-- ORs every stem (highlights). A stop word of the language (no stem) is left out, as
-- PostgreSQL does, unless it is the prefix word. Words are looked up in search_words: the
-- typo candidates by first letter and length (or, with a budget of `first_cost`, by the
-- other letters), the prefix completions by range, both only within the tenant.
CREATE FUNCTION rustok_text_query(
    p_tenant uuid, p_doc_type text, p_cfg regconfig, p_words text[], p_budgets int[],
    p_prefix boolean, p_first_cost int, p_alternatives text[] DEFAULT NULL,
    OUT cfg regconfig, OUT match tsquery, OUT title_match tsquery, OUT marks tsquery,
    OUT whole tsquery[], OUT near tsquery[], OUT one tsquery[], OUT title tsquery[],
    OUT related tsquery[], OUT near_title tsquery[], OUT near_related tsquery[],
    OUT one_title tsquery[], OUT one_related tsquery[])
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    i int;
    w text;
    b int;
    n int;
    h int;
    pfx text;
    t_whole text[];
    t_more text[];
    t_one text[];
    t_two text[];
    t_all text[];
    q tsquery;
    alt text;
    a0 tsquery;
    a_title tsquery;
    a_related tsquery;
BEGIN
    cfg := p_cfg;
    whole := '{}'; near := '{}'; one := '{}'; title := '{}'; related := '{}';
    near_title := '{}'; near_related := '{}'; one_title := '{}'; one_related := '{}';
    FOR i IN 1 .. coalesce(array_length(p_words, 1), 0) LOOP
        w := p_words[i];
        b := p_budgets[i];
        n := length(w);
        pfx := NULL;
        -- the tenant's synonyms of this position: a tsquery text with `{w}` where the
        -- weights go ('' for any field, ':A' titles, ':AB' titles and the middle tier)
        alt := nullif(p_alternatives[i], '');
        a0 := CASE WHEN alt IS NOT NULL THEN to_tsquery(p_cfg, replace(alt, '{w}', '')) END;
        a_title := CASE WHEN alt IS NOT NULL THEN to_tsquery(p_cfg, replace(alt, '{w}', ':A'))
                   END;
        a_related := CASE WHEN alt IS NOT NULL
                          THEN to_tsquery(p_cfg, replace(alt, '{w}', ':AB')) END;
        IF w = '' THEN
            -- a position made of its alternatives only (a multi-word term typed whole)
            whole := whole || a0;
            near := near || a0;
            one := one || NULL::tsquery;
            title := title || a_title;
            related := related || a_related;
            near_title := near_title || a_title;
            near_related := near_related || a_related;
            one_title := one_title || NULL::tsquery;
            one_related := one_related || NULL::tsquery;
            match := CASE WHEN match IS NULL THEN a0 ELSE match && a0 END;
            marks := CASE WHEN marks IS NULL THEN a0 ELSE marks || a0 END;
            title_match := CASE WHEN title_match IS NULL THEN a_title
                                ELSE title_match && a_title END;
            CONTINUE;
        END IF;
        t_whole := ARRAY(SELECT quote_literal(l)
                         FROM unnest(tsvector_to_array(to_tsvector(p_cfg, w))) AS l);
        t_more := '{}';
        t_one := '{}';
        t_two := '{}';
        IF p_prefix AND i = array_length(p_words, 1) THEN
            -- the stems starting with w, and the stems of the words starting with w whose
            -- stem is shorter than w ("elegan": elegant, stem eleg)
            pfx := quote_literal(w);
            IF n >= 3 THEN
                t_more := ARRAY(
                    SELECT DISTINCT quote_literal(l)
                    FROM (SELECT s.word FROM search_words s
                          WHERE s.tenant_id = p_tenant AND s.doc_type = p_doc_type
                            AND s.word > w AND s.word < w || chr(1114111)
                          ORDER BY s.word LIMIT 100) AS s,
                         unnest(tsvector_to_array(to_tsvector(p_cfg, s.word))) AS l
                    WHERE NOT starts_with(l, w));
            END IF;
        ELSIF cardinality(t_whole) = 0 AND a0 IS NULL THEN
            whole := whole || NULL::tsquery;
            near := near || NULL::tsquery;
            one := one || NULL::tsquery;
            title := title || NULL::tsquery;
            related := related || NULL::tsquery;
            near_title := near_title || NULL::tsquery;
            near_related := near_related || NULL::tsquery;
            one_title := one_title || NULL::tsquery;
            one_related := one_related || NULL::tsquery;
            CONTINUE;
        END IF;
        IF b = 1 THEN
            -- one edit (or swap) leaves either the first h letters or the last n - 2 - h
            -- letters in place: the candidates are found by prefix and by suffix range
            h := (n - 1) / 2;
            t_one := ARRAY(
                SELECT DISTINCT quote_literal(l)
                FROM search_words s,
                     unnest(tsvector_to_array(to_tsvector(p_cfg, s.word))) AS l
                WHERE s.tenant_id = p_tenant AND s.doc_type = p_doc_type
                  AND left(s.word, 1) = left(w, 1)
                  AND ((s.word >= left(w, h) AND s.word < left(w, h) || chr(1114111))
                       OR (reverse(s.word) >= reverse(right(w, n - 2 - h))
                           AND reverse(s.word) < reverse(right(w, n - 2 - h)) || chr(1114111)))
                  AND length(s.word) BETWEEN n - 1 AND n + 1 AND s.word <> w
                  AND (levenshtein_less_equal(w, s.word, 1) <= 1
                       OR (levenshtein_less_equal(w, s.word, 2) <= 2
                           AND rustok_within_edits(w, s.word, 1))));
        ELSIF b > 1 THEN
            -- two edits (or swaps) leave one of three pieces in place: the first two letters,
            -- the last two, or the letters 4 .. n - 3 somewhere (letters 3 and n - 2 apart);
            -- levenshtein counts a swap twice: rustok_within_edits only for those
            SELECT coalesce(array_agg(DISTINCT quote_literal(l)) FILTER (WHERE c.cost = 1),
                            '{}'),
                   coalesce(array_agg(DISTINCT quote_literal(l)) FILTER (WHERE c.cost > 1),
                            '{}')
            INTO t_one, t_two
            FROM (SELECT s.word,
                         CASE WHEN levenshtein_less_equal(w, s.word, 1) <= 1
                                   OR rustok_within_edits(w, s.word, 1) THEN 1
                              ELSE 2 END AS cost
                  FROM search_words s
                  WHERE s.tenant_id = p_tenant AND s.doc_type = p_doc_type
                    AND left(s.word, 1) = left(w, 1)
                    AND ((s.word >= left(w, 2) AND s.word < left(w, 2) || chr(1114111))
                         OR (reverse(s.word) >= reverse(right(w, 2))
                             AND reverse(s.word) < reverse(right(w, 2)) || chr(1114111))
                         OR s.word LIKE '%' || substr(w, 4, n - 6) || '%')
                    AND length(s.word) BETWEEN n - b AND n + b AND s.word <> w
                    AND levenshtein_less_equal(w, s.word, 2 * b) <= 2 * b
                    AND (levenshtein_less_equal(w, s.word, b) <= b
                         OR rustok_within_edits(w, s.word, b))) AS c,
                 unnest(tsvector_to_array(to_tsvector(p_cfg, c.word))) AS l;
            IF b >= p_first_cost THEN
                -- the first letter replaced, removed, preceded by another or swapped: one
                -- edit that costs `first_cost` typos (and leaves no budget for another)
                t_two := t_two || ARRAY(
                    SELECT quote_literal(l)
                    FROM search_words s,
                         unnest(tsvector_to_array(to_tsvector(p_cfg, s.word))) AS l
                    WHERE s.tenant_id = p_tenant AND s.doc_type = p_doc_type
                      AND left(s.word, 1) <> left(w, 1)
                      AND (s.word IN (substr(w, 2), substr(w, 2, 1) || left(w, 1) || substr(w, 3))
                           OR substr(s.word, 2) IN (substr(w, 2), w)));
            END IF;
        END IF;
        t_all := t_whole || t_more || t_one || t_two;
        -- a synonym matches as the typed word does without a typo (whole, near, every field)
        whole := whole || rustok_either(rustok_terms(t_whole, NULL, ''), a0);
        near := near || rustok_either(rustok_terms(t_whole || t_more, pfx, ''), a0);
        one := one || rustok_terms(t_one, NULL, '');
        title := title || rustok_either(rustok_terms(t_all, pfx, 'A'), a_title);
        related := related || rustok_either(rustok_terms(t_all, pfx, 'AB'), a_related);
        near_title := near_title || rustok_either(rustok_terms(t_whole || t_more, pfx, 'A'),
                                                  a_title);
        near_related := near_related || rustok_either(
            rustok_terms(t_whole || t_more, pfx, 'AB'), a_related);
        one_title := one_title || rustok_terms(t_one, NULL, 'A');
        one_related := one_related || rustok_terms(t_one, NULL, 'AB');
        q := rustok_either(rustok_terms(t_all, pfx, ''), a0);
        match := CASE WHEN match IS NULL THEN q ELSE match && q END;
        marks := CASE WHEN marks IS NULL THEN q ELSE marks || q END;
        title_match := CASE WHEN title_match IS NULL THEN title[i] ELSE title_match && title[i] END;
    END LOOP;
END
$$;

-- the words of the documents indexed so far (the indexer keeps them from now on)
INSERT INTO search_words (tenant_id, doc_type, word)
SELECT DISTINCT i.tenant_id, 'product', w
FROM index_products i,
     unnest(rustok_words(concat_ws(' ', i.title, i.subtitle, array_to_string(i.tags, ' '),
                                   (SELECT string_agg(c->>'name', ' ')
                                    FROM jsonb_array_elements(i.categories) AS c),
                                   i.description, i.meta_title, i.meta_description))) AS w
ON CONFLICT DO NOTHING;

INSERT INTO search_words (tenant_id, doc_type, word)
SELECT DISTINCT i.tenant_id, 'content', w
FROM index_content i
LEFT JOIN bodies b ON b.tenant_id = i.tenant_id AND b.node_id = i.node_id,
     unnest(rustok_words(concat_ws(' ', i.title, array_to_string(i.tags, ' '), i.category_name,
                                   i.excerpt, b.body, i.author_name, i.meta_title,
                                   i.meta_description))) AS w
ON CONFLICT DO NOTHING;
