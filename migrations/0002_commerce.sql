-- Commerce tables of the manifest (5.3), corrected: tenant_id on every row (SKU uniqueness is
-- per tenant), composite (tenant_id, id) foreign keys, prices unique with NULLS NOT DISTINCT,
-- orders range-partitioned by quarter of created_at with a default partition.

CREATE TABLE commerce_products (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    title           VARCHAR(255) NOT NULL,
    subtitle        VARCHAR(255),
    handle          VARCHAR(255) NOT NULL,
    description     TEXT,
    status          VARCHAR(32) NOT NULL DEFAULT 'draft',
    discountable    BOOLEAN NOT NULL DEFAULT true,
    metadata        JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    published_at    TIMESTAMPTZ,
    UNIQUE (tenant_id, handle),
    UNIQUE (tenant_id, id)
);
CREATE INDEX idx_commerce_products_tenant ON commerce_products (tenant_id, status);

CREATE TRIGGER trg_products_drop_polymorphic AFTER DELETE ON commerce_products
    FOR EACH ROW EXECUTE FUNCTION rustok_drop_polymorphic('product');

CREATE TABLE commerce_variants (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL,
    product_id      UUID NOT NULL,
    title           VARCHAR(255) NOT NULL,
    sku             VARCHAR(64),
    barcode         VARCHAR(64),
    manage_inventory BOOLEAN NOT NULL DEFAULT true,
    allow_backorder  BOOLEAN NOT NULL DEFAULT false,
    weight          INT,
    length          INT,
    height          INT,
    width           INT,
    position        INT NOT NULL DEFAULT 0,
    metadata        JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES commerce_products (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX idx_commerce_variants_product ON commerce_variants (product_id);
CREATE UNIQUE INDEX uq_commerce_variants_sku ON commerce_variants (tenant_id, sku)
    WHERE sku IS NOT NULL;

CREATE TABLE commerce_options (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL,
    product_id      UUID NOT NULL,
    title           VARCHAR(255) NOT NULL,
    position        INT NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES commerce_products (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX idx_commerce_options_product ON commerce_options (product_id);

CREATE TABLE commerce_option_values (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL,
    option_id       UUID NOT NULL,
    value           VARCHAR(255) NOT NULL,
    position        INT NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, option_id) REFERENCES commerce_options (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX idx_commerce_option_values_option ON commerce_option_values (option_id);

CREATE TABLE commerce_variant_options (
    tenant_id       UUID NOT NULL,
    variant_id      UUID NOT NULL,
    option_value_id UUID NOT NULL,
    PRIMARY KEY (variant_id, option_value_id),
    FOREIGN KEY (tenant_id, variant_id) REFERENCES commerce_variants (tenant_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, option_value_id) REFERENCES commerce_option_values (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX idx_commerce_variant_options_value ON commerce_variant_options (option_value_id);

CREATE TABLE commerce_prices (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL,
    variant_id      UUID NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount >= 0),
    currency_code   CHAR(3) NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
    price_list_id   UUID,
    min_quantity    INT NOT NULL DEFAULT 1 CHECK (min_quantity >= 1),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE NULLS NOT DISTINCT (variant_id, currency_code, price_list_id, min_quantity),
    FOREIGN KEY (tenant_id, variant_id) REFERENCES commerce_variants (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX idx_commerce_prices_variant ON commerce_prices (variant_id);

CREATE TABLE commerce_categories (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    parent_id       UUID,
    name            VARCHAR(255) NOT NULL,
    handle          VARCHAR(255) NOT NULL,
    description     TEXT,
    is_active       BOOLEAN NOT NULL DEFAULT true,
    is_internal     BOOLEAN NOT NULL DEFAULT false,
    rank            INT NOT NULL DEFAULT 0,
    metadata        JSONB NOT NULL DEFAULT '{}',
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (tenant_id, handle),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES commerce_categories (tenant_id, id)
        ON DELETE SET NULL (parent_id)
);
CREATE INDEX idx_commerce_categories_parent ON commerce_categories (parent_id);

CREATE TRIGGER trg_commerce_categories_drop_polymorphic AFTER DELETE ON commerce_categories
    FOR EACH ROW EXECUTE FUNCTION rustok_drop_polymorphic('commerce_category');

CREATE TABLE commerce_product_categories (
    tenant_id       UUID NOT NULL,
    product_id      UUID NOT NULL,
    category_id     UUID NOT NULL,
    PRIMARY KEY (product_id, category_id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES commerce_products (tenant_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, category_id) REFERENCES commerce_categories (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX idx_commerce_product_categories_category ON commerce_product_categories (category_id);

CREATE TABLE commerce_inventory_items (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    sku             VARCHAR(64),
    requires_shipping BOOLEAN NOT NULL DEFAULT true,
    metadata        JSONB NOT NULL DEFAULT '{}',
    UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX uq_commerce_inventory_items_sku ON commerce_inventory_items (tenant_id, sku)
    WHERE sku IS NOT NULL;

CREATE TABLE commerce_stock_locations (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name            VARCHAR(255) NOT NULL,
    address         JSONB,
    metadata        JSONB NOT NULL DEFAULT '{}',
    UNIQUE (tenant_id, id)
);

CREATE TABLE commerce_inventory_levels (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL,
    inventory_item_id UUID NOT NULL,
    location_id     UUID NOT NULL,
    stocked_quantity  INT NOT NULL DEFAULT 0 CHECK (stocked_quantity >= 0),
    reserved_quantity INT NOT NULL DEFAULT 0 CHECK (reserved_quantity >= 0),
    incoming_quantity INT NOT NULL DEFAULT 0 CHECK (incoming_quantity >= 0),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (inventory_item_id, location_id),
    FOREIGN KEY (tenant_id, inventory_item_id) REFERENCES commerce_inventory_items (tenant_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, location_id) REFERENCES commerce_stock_locations (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX idx_commerce_inventory_levels_location ON commerce_inventory_levels (location_id);

CREATE TABLE commerce_variant_inventory (
    tenant_id         UUID NOT NULL,
    variant_id        UUID NOT NULL,
    inventory_item_id UUID NOT NULL,
    required_quantity INT NOT NULL DEFAULT 1 CHECK (required_quantity >= 1),
    PRIMARY KEY (variant_id, inventory_item_id),
    FOREIGN KEY (tenant_id, variant_id) REFERENCES commerce_variants (tenant_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, inventory_item_id) REFERENCES commerce_inventory_items (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX idx_commerce_variant_inventory_item ON commerce_variant_inventory (inventory_item_id);

CREATE TABLE commerce_orders (
    id              UUID NOT NULL,
    tenant_id       UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id     UUID,
    display_id      BIGSERIAL,
    status          VARCHAR(32) NOT NULL DEFAULT 'pending',
    email           VARCHAR(255),
    currency_code   CHAR(3) NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
    subtotal        BIGINT NOT NULL,
    tax_total       BIGINT NOT NULL DEFAULT 0,
    shipping_total  BIGINT NOT NULL DEFAULT 0,
    discount_total  BIGINT NOT NULL DEFAULT 0,
    total           BIGINT NOT NULL,
    shipping_address JSONB,
    billing_address  JSONB,
    metadata        JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (id, created_at),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES users (tenant_id, id)
        ON DELETE SET NULL (customer_id)
) PARTITION BY RANGE (created_at);

CREATE TABLE commerce_orders_default PARTITION OF commerce_orders DEFAULT;

CREATE INDEX idx_commerce_orders_tenant ON commerce_orders (tenant_id, created_at DESC);
CREATE INDEX idx_commerce_orders_id ON commerce_orders (id);
CREATE INDEX idx_commerce_orders_customer ON commerce_orders (customer_id);
CREATE INDEX idx_commerce_orders_status ON commerce_orders (tenant_id, status);

-- Items carry their order's created_at: a foreign key to a partitioned table must name its
-- partition key.
CREATE TABLE commerce_order_items (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL,
    order_id        UUID NOT NULL,
    order_created_at TIMESTAMPTZ NOT NULL,
    variant_id      UUID,
    title           VARCHAR(255) NOT NULL,
    sku             VARCHAR(64),
    quantity        INT NOT NULL CHECK (quantity > 0),
    unit_price      BIGINT NOT NULL,
    total           BIGINT NOT NULL,
    metadata        JSONB NOT NULL DEFAULT '{}',
    FOREIGN KEY (order_id, order_created_at) REFERENCES commerce_orders (id, created_at)
        ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, variant_id) REFERENCES commerce_variants (tenant_id, id)
        ON DELETE SET NULL (variant_id)
);
CREATE INDEX idx_commerce_order_items_order ON commerce_order_items (order_id);
CREATE INDEX idx_commerce_order_items_variant ON commerce_order_items (variant_id);
