-- name: mark_indexed --
-- Record that the events at these outbox positions are indexed (consistency tokens).
-- $1 outbox seqs
UPDATE outbox SET indexed_at = clock_timestamp()
WHERE seq = ANY($1::bigint[]) AND indexed_at IS NULL
