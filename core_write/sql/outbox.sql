-- name: outbox_insert --
-- Append a unit's events to the outbox and wake the relay at commit; returns the highest seq.
-- $1 event ids, $2 tenant ids, $3 aggregate types, $4 aggregate ids, $5 event types,
-- $6 envelopes (jsonb), $7 timestamps
WITH inserted AS (
    INSERT INTO outbox (event_id, tenant_id, aggregate_type, aggregate_id, event_type,
                        payload, created_at)
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[],
                         $6::jsonb[], $7::timestamptz[])
    RETURNING seq
)
SELECT max(seq) AS token, pg_notify('rustok_outbox', '') AS notified FROM inserted

-- name: module_enabled --
-- Whether a module is enabled for a tenant (a missing toggle row means disabled); locks the
-- toggle row so that a concurrent disable waits for this write. $1 tenant id, $2 module slug
SELECT enabled FROM tenant_modules WHERE tenant_id = $1 AND module_slug = $2 FOR SHARE

-- name: tenant_exists --
-- Whether a tenant exists. $1 tenant id
SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1)

-- name: capture_off --
-- This transaction's writes emit domain events: the capture triggers (migration 0013) skip it.
SELECT set_config('rustok.capture', 'off', true)
