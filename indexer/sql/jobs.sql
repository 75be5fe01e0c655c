-- name: job_create --
-- A queued reindex job. $1 id, $2 tenant id, $3 doc type, $4 doc id, $5 requested by
INSERT INTO index_jobs (id, tenant_id, doc_type, doc_id, requested_by)
VALUES ($1, $2, $3, $4, $5) RETURNING *

-- name: job_claim --
-- Take the oldest queued job (several daemons may poll; each job runs once).
UPDATE index_jobs SET state = 'running', started_at = now(), updated_at = now()
WHERE id = (SELECT id FROM index_jobs WHERE state = 'queued' ORDER BY created_at
            FOR UPDATE SKIP LOCKED LIMIT 1)
RETURNING *

-- name: job_start --
-- Mark a job running now (when the caller runs it inline). $1 id
UPDATE index_jobs SET state = 'running', started_at = now(), updated_at = now()
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

-- name: job_fail_stale --
-- Jobs left running by a daemon that died cannot finish: mark them failed. $1 older than
UPDATE index_jobs SET state = 'failed', error = 'the daemon running it stopped',
       finished_at = now(), updated_at = now()
WHERE state = 'running' AND updated_at < now() - $1::interval
