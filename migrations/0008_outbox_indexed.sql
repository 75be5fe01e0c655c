-- The indexer marks the outbox rows whose events it has indexed, in the batch that indexed
-- them: read-your-writes then waits for the indexer itself, not for the relay's periodic
-- reading of the consumer group's acknowledgements (acked_at).
ALTER TABLE outbox ADD COLUMN indexed_at TIMESTAMPTZ;
