-- Engine followers are woken when changes are queued for them instead of polling the queue
-- every few tens of milliseconds: every statement that inserts into engine_queue (whoever
-- runs it: the indexer's document writes, reindex jobs, the generation swap) notifies the
-- channel `rustok_engine_queue` at its commit (one notification per transaction: PostgreSQL
-- folds repeats). The followers LISTEN on it (core_write.db.listen) and still poll, rarely
-- (TANTIVY_POLL_INTERVAL_MS, README), for what arrives while they do not listen. ENABLE
-- ALWAYS: a session in `session_replication_role = replica` notifies as well.
CREATE FUNCTION rustok_engine_queue_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rustok_engine_queue', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER engine_queue_notify AFTER INSERT ON engine_queue
    FOR EACH STATEMENT EXECUTE FUNCTION rustok_engine_queue_notify();
ALTER TABLE engine_queue ENABLE ALWAYS TRIGGER engine_queue_notify;
