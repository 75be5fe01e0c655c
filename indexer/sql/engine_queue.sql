-- The per-engine change queue (indexer/engine_queue.py is its only user). A row says "look
-- at this document again": followers rebuild it from its current index row.

-- name: engine_queue_enqueue --
-- (A fragment: the one INSERT into the queue.) Each row (doc_type, doc_id, tenant_id,
-- event_time) of the docs placeholder, once per engine of the engines placeholder (a text[]
-- parameter); a document still waiting moves to the back with a new seq and keeps its
-- oldest event time.
INSERT INTO engine_queue AS q (engine, doc_type, doc_id, tenant_id, event_time)
SELECT e.engine, d.doc_type, d.doc_id, d.tenant_id, d.event_time
FROM {docs} AS d(doc_type, doc_id, tenant_id, event_time)
CROSS JOIN unnest({engines}::text[]) AS e(engine)
ON CONFLICT (engine, doc_type, doc_id) DO UPDATE SET
    seq = nextval('engine_queue_seq'), tenant_id = EXCLUDED.tenant_id,
    event_time = LEAST(q.event_time, EXCLUDED.event_time), queued_at = clock_timestamp()

-- name: engine_queue_ids --
-- (The docs of engine_queue_enqueue.) Documents by id. $2 doc type, $3 ids, $4 their
-- tenants, $5 event time (NULL: the queue time counts)
SELECT $2::text, u.id, u.tenant_id, $5::timestamptz
FROM unnest($3::uuid[], $4::uuid[]) AS u(id, tenant_id)

-- name: engine_queue_table --
-- (The docs of engine_queue_enqueue.) Every document of an index table (the table and key
-- placeholders, from a closed set of names). $2 doc type, $3 event time
SELECT $2::text, {key}, tenant_id, $3::timestamptz FROM {table}

-- name: engine_queue_read --
-- The oldest rows of one engine. $1 engine, $2 seq to read after (0: from the start), $3 limit
SELECT doc_type, doc_id, seq, COALESCE(event_time, queued_at) AS event_time, tenant_id
FROM engine_queue WHERE engine = $1 AND seq > $2 ORDER BY seq LIMIT $3

-- name: engine_queue_delete_applied --
-- Rows an engine applied, only where the seq is still the one read (a document re-queued
-- meanwhile stays queued). $1 engine, $2 doc types, $3 doc ids, $4 seqs
DELETE FROM engine_queue q
USING unnest($2::text[], $3::uuid[], $4::bigint[]) AS a(doc_type, doc_id, seq)
WHERE q.engine = $1 AND q.doc_type = a.doc_type AND q.doc_id = a.doc_id AND q.seq = a.seq

-- name: engine_queue_waiting --
-- Does a change of tenant $2 queued for engine $1 at or before $3 still wait?
SELECT EXISTS (SELECT 1 FROM engine_queue q
               WHERE q.engine = $1 AND q.tenant_id = $2
                 AND COALESCE(q.event_time, q.queued_at) <= $3)

-- name: engine_queue_age --
-- Seconds since the oldest change waiting for engine $1 happened (0 when none waits)
SELECT COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(COALESCE(event_time, queued_at))),
                0)::float8
FROM engine_queue WHERE engine = $1

-- name: engine_queue_tenant_ages --
-- Seconds since the oldest change waiting for engine $1 happened, per tenant with one waiting
SELECT tenant_id, EXTRACT(EPOCH FROM clock_timestamp()
                          - min(COALESCE(event_time, queued_at)))::float8 AS age
FROM engine_queue WHERE engine = $1 GROUP BY tenant_id

-- name: engine_queue_backlog --
-- Rows waiting per engine (the backlog gauge)
SELECT engine, count(*) AS n FROM engine_queue GROUP BY engine
