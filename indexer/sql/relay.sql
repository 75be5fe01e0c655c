-- name: relay_lock --
-- Serialize relays on one stream for the transaction: batches are published one at a time, in
-- seq order, so two relays neither duplicate nor reorder. $1 lock key (bigint)
SELECT pg_advisory_xact_lock($1)

-- name: relay_epoch --
-- The epoch this database last wrote to Redis for a stream. $1 stream name
SELECT epoch FROM relay_state WHERE stream = $1

-- name: relay_set_epoch --
-- Record a new epoch for a stream. $1 stream, $2 epoch
INSERT INTO relay_state (stream, epoch) VALUES ($1, $2)
ON CONFLICT (stream) DO UPDATE SET epoch = EXCLUDED.epoch, updated_at = now()

-- name: relay_claim --
-- The oldest unpublished rows, locked for this transaction. $1 batch size
SELECT seq, event_id, tenant_id, event_type, payload::text AS data
FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE

-- name: relay_mark_published --
-- Record where each row went in the stream. $1 seqs, $2 stream id ms parts, $3 seq parts
UPDATE outbox o SET published_at = now(), stream_ms = u.ms, stream_seq = u.sq
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u(seq, ms, sq)
WHERE o.seq = u.seq

-- name: relay_mark_acked --
-- Rows whose stream entry lies below the point every consumer group has acknowledged.
-- $1 safe id ms part, $2 safe id seq part
UPDATE outbox SET acked_at = now()
WHERE published_at IS NOT NULL AND acked_at IS NULL AND (stream_ms, stream_seq) < ($1, $2)

-- name: relay_unpublish_unacked --
-- After Redis lost its data: everything not known to be acknowledged is published again.
UPDATE outbox SET published_at = NULL, stream_ms = NULL, stream_seq = NULL
WHERE published_at IS NOT NULL AND acked_at IS NULL

-- name: relay_purge_acked --
-- Drop acknowledged rows older than the retention period, a bounded number at a time.
-- $1 retention (interval), $2 limit
DELETE FROM outbox WHERE seq IN (
    SELECT seq FROM outbox WHERE acked_at < now() - $1::interval ORDER BY seq LIMIT $2)

-- name: relay_backlog --
-- Unpublished rows (an upper bound: the seq span from the oldest unpublished row to the
-- newest row) and the age of the oldest one (seconds). Two index probes, not a count: the
-- relay runs it every acknowledgement sync, and counting millions of rows took seconds.
WITH oldest AS (
    SELECT seq, created_at FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1
)
SELECT COALESCE((SELECT max(seq) FROM outbox) - (SELECT seq FROM oldest) + 1, 0) AS backlog,
       COALESCE(EXTRACT(EPOCH FROM now() - (SELECT created_at FROM oldest)), 0)::float8
           AS oldest_age
