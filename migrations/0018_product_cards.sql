-- What a product card and a facet list render (issue 13): a product thumbnail (a URL, as
-- Medusa's products have), and in the product documents the variants' SKUs, the option
-- values they carry, and the identifiers a search matches exactly.

ALTER TABLE commerce_products ADD COLUMN thumbnail VARCHAR(2048);

-- a new column of a captured table: the generated trigger functions compare it too
SELECT rustok_capture_install('commerce_products', 'tenant_id', 'id', '', ARRAY['id']);

ALTER TABLE index_products
    ADD COLUMN thumbnail     VARCHAR(2048),
    ADD COLUMN skus          TEXT[] NOT NULL DEFAULT '{}',   -- by variant position
    ADD COLUMN options       JSONB NOT NULL DEFAULT '[]',    -- [{option, values}]
    ADD COLUMN option_values TEXT[] NOT NULL DEFAULT '{}',   -- {"Colour:red", ...}
    ADD COLUMN identifiers   TEXT[] NOT NULL DEFAULT '{}';   -- lower(handle, SKUs, barcodes)

-- documents built before this migration have none of these: a reindex fills them
CREATE INDEX idx_index_products_option_values ON index_products USING GIN (option_values);
CREATE INDEX idx_index_products_identifiers ON index_products USING GIN (identifiers);
CREATE INDEX idx_index_content_slug ON index_content (tenant_id, lower(slug));
