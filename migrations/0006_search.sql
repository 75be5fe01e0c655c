-- Search support: trigram matching for typo-tolerant search and title autocomplete
-- (search_api/backends/postgres.py) on the index tables.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX idx_index_products_title_trgm ON index_products USING GIN (title gin_trgm_ops);
CREATE INDEX idx_index_content_title_trgm ON index_content USING GIN (title gin_trgm_ops);
