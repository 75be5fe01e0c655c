-- name: job_create --
-- A queued reindex job. $1 id, $2 tenant id, $3 doc type, $4 doc id, $5 requested by
INSERT INTO index_jobs (id, tenant_id, doc_type, doc_id, requested_by)
VALUES ($1, $2, $3, $4, $5) RETURNING *

-- name: job_claim --
-- Take the oldest queued job (several daemons may poll; each job runs once).
UPDATE index_jobs SET state = 'running', started_at = now(), updated_at = now(),
       attempts = attempts + 1
WHERE id = (SELECT id FROM index_jobs WHERE state = 'queued' ORDER BY created_at
            FOR UPDATE SKIP LOCKED LIMIT 1)
RETURNING *

-- name: job_start --
-- Mark a job running now (when the caller runs it inline). $1 id
UPDATE index_jobs SET state = 'running', started_at = now(), updated_at = now(),
       attempts = attempts + 1
WHERE id = $1 AND state = 'queued' RETURNING *

-- name: job_progress --
-- Record progress. $1 id, $2 total, $3 done, $4 errors, $5 rate (documents/s)
UPDATE index_jobs SET total = $2, done = $3, errors = $4, rate = $5, updated_at = now()
WHERE id = $1

-- name: job_finish --
-- Record the end of a job. $1 id, $2 state, $3 error or NULL
UPDATE index_jobs SET state = $2, error = $3, finished_at = now(), updated_at = now()
WHERE id = $1 RETURNING *

-- name: job_get --
-- One job. $1 id
SELECT * FROM index_jobs WHERE id = $1

-- name: job_requeue --
-- A running job stopped at a page boundary by a shutdown: queued again (the shutdown does
-- not count as an attempt). $1 id, $2 why
UPDATE index_jobs SET state = 'queued', error = $2, started_at = NULL, updated_at = now(),
       attempts = attempts - 1
WHERE id = $1 AND state = 'running' RETURNING *

-- name: job_running --
-- The jobs marked running (their runners hold their locks, unless they died).
SELECT id FROM index_jobs WHERE state = 'running'

-- name: job_orphaned --
-- A running job whose runner died: queued again, or failed once it was started $2 times.
-- $1 id, $2 most attempts
UPDATE index_jobs SET
    state = CASE WHEN attempts < $2 THEN 'queued' ELSE 'failed' END,
    error = 'its runner died at ' || done || '/' || total || ' documents'
        || CASE WHEN attempts < $2 THEN '; queued again' ELSE ' (attempt ' || attempts || ')' END,
    started_at = CASE WHEN attempts < $2 THEN NULL ELSE started_at END,
    finished_at = CASE WHEN attempts < $2 THEN NULL ELSE now() END,
    updated_at = now()
WHERE id = $1 AND state = 'running' RETURNING *
