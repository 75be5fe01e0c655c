-- Order display ids count per tenant: one global sequence told every tenant how many orders
-- the others take. A counter row per tenant hands out the next number when an order is
-- inserted without one, under the counter row's lock (held until the order commits, so a
-- tenant's numbers have no gaps and are never reused).
CREATE TABLE tenant_counters (
    tenant_id   UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    value       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

INSERT INTO tenant_counters (tenant_id, name, value)
SELECT tenant_id, 'order_display_id', max(display_id) FROM commerce_orders GROUP BY tenant_id;

ALTER TABLE commerce_orders ALTER COLUMN display_id DROP DEFAULT;
DROP SEQUENCE IF EXISTS commerce_orders_display_id_seq;
CREATE INDEX idx_commerce_orders_display ON commerce_orders (tenant_id, display_id);

CREATE FUNCTION assign_order_display_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.display_id IS NULL THEN
        INSERT INTO tenant_counters AS c (tenant_id, name, value)
        VALUES (NEW.tenant_id, 'order_display_id', 1)
        ON CONFLICT (tenant_id, name) DO UPDATE SET value = c.value + 1
        RETURNING value INTO NEW.display_id;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER trg_order_display_id BEFORE INSERT ON commerce_orders
    FOR EACH ROW EXECUTE FUNCTION assign_order_display_id();
