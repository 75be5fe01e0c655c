-- A tenant's synonyms reach PostgreSQL's text matching (issue 14): `rustok_text_query` takes
-- per query word the tsquery text of its alternatives (`p_alternatives`, built by
-- search_api/compile_pg.py from the tenant's relevance settings; NULL or '' for none). A word
-- with alternatives matches as typed (with its typos and prefix) or as any of them, and an
-- alternative counts as a match without a typo; an empty word stands for a position made of
-- its alternatives only (a multi-word term typed whole). Stop words a tenant names never reach
-- this function (they are left out of the words). Otherwise the function is 0019's.

-- x OR y, either may be NULL
CREATE FUNCTION rustok_either(x tsquery, y tsquery) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN x IS NULL THEN y WHEN y IS NULL THEN x ELSE x || y END
$$;

DROP FUNCTION rustok_text_query(uuid, text, regconfig, text[], int[], boolean, int);

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
