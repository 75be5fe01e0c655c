-- Reindex jobs survive their runner: the runner holds a session advisory lock on its job
-- (indexer/jobs.py), so a running job whose lock is free lost its runner; it is queued again
-- until it has been started this many times, then failed.
ALTER TABLE index_jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
