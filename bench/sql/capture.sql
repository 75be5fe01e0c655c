-- name: drop_capture_triggers --
-- Drop every capture trigger of migration 0013 (bench write_path --capture off/both).
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tgname, tgrelid::regclass AS rel FROM pg_trigger
             WHERE tgname LIKE 'trg\_capture\_%' AND NOT tgisinternal
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.rel);
    END LOOP;
END $$
