-- Tag use counts kept per statement instead of per row: a multi-row write of tag links (the
-- bulk import links ~1,500 per chunk to a few dozen tags) updated the same hot tag row once
-- per link, each update a new row version the next one had to find; now each statement
-- updates each tag it touched once, by the number of its links the statement inserted or
-- deleted (transition tables). A single-row write (core_write's services) gets the same
-- result as before. Tags are updated in id order, so two writers linking the same tags lock
-- them in one order. A trigger with transition tables has one event, hence two triggers.
DROP TRIGGER trg_taggables_counter ON taggables;
DROP FUNCTION rustok_taggables_counter();

CREATE FUNCTION rustok_taggables_counter() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        FOR delta IN SELECT tag_id, count(*)::int AS n FROM taggables_new
                     GROUP BY tag_id ORDER BY tag_id LOOP
            UPDATE tags SET use_count = use_count + delta.n WHERE id = delta.tag_id;
        END LOOP;
    ELSE
        FOR delta IN SELECT tag_id, count(*)::int AS n FROM taggables_old
                     GROUP BY tag_id ORDER BY tag_id LOOP
            UPDATE tags SET use_count = use_count - delta.n WHERE id = delta.tag_id;
        END LOOP;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER trg_taggables_counter_ins AFTER INSERT ON taggables
    REFERENCING NEW TABLE AS taggables_new
    FOR EACH STATEMENT EXECUTE FUNCTION rustok_taggables_counter();
CREATE TRIGGER trg_taggables_counter_del AFTER DELETE ON taggables
    REFERENCING OLD TABLE AS taggables_old
    FOR EACH STATEMENT EXECUTE FUNCTION rustok_taggables_counter();
