"""The Meilisearch engine: one index per tenant and document type, fed from the index tables
through `engine_queue` by one follower, and rebuilt behind an index swap."""
