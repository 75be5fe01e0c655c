-- Per-field weights (ranking rule 3, "best field") per tenant: the tier of each searchable
-- field as one letter (A, B, C: tier 1, 2, 3) per field, in the field order of
-- indexer.model.relevance.ProductWeights / ContentWeights; NULL: the default tiers. Written
-- with `settings` (which holds the same as `field_weights`) by search_api.relevance_store, so
-- the document builders (indexer/sql/documents.sql) read a short text per tenant instead of
-- parsing the settings JSON per row. `weights_job`: the reindex job the last change of the
-- weights started (the tier is part of every index: the weights are live once it succeeded).
ALTER TABLE search_settings
    ADD COLUMN product_weights TEXT CHECK (product_weights ~ '^[ABC]{7}$'),
    ADD COLUMN content_weights TEXT CHECK (content_weights ~ '^[ABC]{7}$'),
    ADD COLUMN weights_job UUID REFERENCES index_jobs(id) ON DELETE SET NULL;
