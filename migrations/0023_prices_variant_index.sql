-- commerce_prices had two indexes leading with variant_id: idx_commerce_prices_variant
-- (variant_id) and the unique index of (variant_id, currency_code, price_list_id,
-- min_quantity), which serves every lookup by variant as well (the document build's join,
-- the cascade from a deleted variant). Each price written updated both; the bulk import
-- writes about six a product.
DROP INDEX idx_commerce_prices_variant;
