-- Index read models (5.4), corrected: price ranges per currency instead of a meaningless
-- min/max over mixed currencies, category and tag ids for fan-out from the read model,
-- a source version (compare-and-set: an older build never replaces a newer one) and a
-- monotonic index position that engine followers apply in order.

CREATE SEQUENCE index_position_seq;

CREATE TABLE index_products (
    product_id      UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL,
    title           VARCHAR(255) NOT NULL,
    subtitle        VARCHAR(255),
    handle          VARCHAR(255) NOT NULL,
    description     TEXT,
    status          VARCHAR(32) NOT NULL,
    prices          JSONB NOT NULL DEFAULT '{}',      -- {"EUR": {"min": 100, "max": 250}}
    currencies      TEXT[] NOT NULL DEFAULT '{}',
    total_stock     INT NOT NULL DEFAULT 0,
    has_stock       BOOLEAN NOT NULL DEFAULT false,
    categories      JSONB NOT NULL DEFAULT '[]',      -- [{id, name, handle}]
    category_ids    UUID[] NOT NULL DEFAULT '{}',
    tags            TEXT[] NOT NULL DEFAULT '{}',
    tag_ids         UUID[] NOT NULL DEFAULT '{}',
    meta_title      VARCHAR(255),
    meta_description VARCHAR(500),
    search_vector   TSVECTOR,
    created_at      TIMESTAMPTZ NOT NULL,
    published_at    TIMESTAMPTZ,
    version         BIGINT NOT NULL,
    position        BIGINT NOT NULL DEFAULT nextval('index_position_seq'),
    indexed_at      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_index_products_tenant ON index_products (tenant_id, status);
CREATE INDEX idx_index_products_search ON index_products USING GIN (search_vector);
CREATE INDEX idx_index_products_stock ON index_products (tenant_id, has_stock);
CREATE INDEX idx_index_products_categories ON index_products USING GIN (category_ids);
CREATE INDEX idx_index_products_tag_ids ON index_products USING GIN (tag_ids);
CREATE INDEX idx_index_products_position ON index_products (position);

CREATE TABLE index_content (
    node_id         UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL,
    kind            VARCHAR(32) NOT NULL,
    title           VARCHAR(255),
    slug            VARCHAR(255),
    excerpt         TEXT,
    body_preview    TEXT,
    status          VARCHAR(32) NOT NULL,
    author_id       UUID,
    author_name     VARCHAR(255),
    category_id     UUID,
    category_name   VARCHAR(255),
    category_slug   VARCHAR(255),
    tags            TEXT[] NOT NULL DEFAULT '{}',
    tag_ids         UUID[] NOT NULL DEFAULT '{}',
    parent_id       UUID,
    reply_count     INT NOT NULL DEFAULT 0,
    meta_title      VARCHAR(255),
    meta_description VARCHAR(500),
    search_vector   TSVECTOR,
    published_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    version         BIGINT NOT NULL,
    position        BIGINT NOT NULL DEFAULT nextval('index_position_seq'),
    indexed_at      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_index_content_tenant ON index_content (tenant_id, kind, status);
CREATE INDEX idx_index_content_search ON index_content USING GIN (search_vector);
CREATE INDEX idx_index_content_published ON index_content (tenant_id, kind, published_at DESC);
CREATE INDEX idx_index_content_category ON index_content (category_id);
CREATE INDEX idx_index_content_author ON index_content (author_id);
CREATE INDEX idx_index_content_tag_ids ON index_content USING GIN (tag_ids);
CREATE INDEX idx_index_content_position ON index_content (position);
