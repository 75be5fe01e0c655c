-- Core tables of the manifest (5.2), corrected: categories before nodes, nodes hash-partitioned
-- by tenant with tenant_id in every key, composite (tenant_id, id) foreign keys so that a row
-- can only reference rows of its own tenant, partial unique indexes instead of UNIQUE ... WHERE.

CREATE TABLE tenants (
    id              UUID PRIMARY KEY,
    name            VARCHAR(255) NOT NULL,
    slug            VARCHAR(64) NOT NULL UNIQUE,
    settings        JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE users (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email           VARCHAR(255) NOT NULL,
    display_name    VARCHAR(255),
    password_hash   VARCHAR(255) NOT NULL,
    role            VARCHAR(32) NOT NULL DEFAULT 'customer',
    metadata        JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (tenant_id, email),
    UNIQUE (tenant_id, id)
);

CREATE TABLE categories (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    parent_id       UUID,
    name            VARCHAR(255) NOT NULL,
    slug            VARCHAR(255) NOT NULL,
    description     TEXT,
    position        INT NOT NULL DEFAULT 0,
    depth           INT NOT NULL DEFAULT 0,
    node_count      INT NOT NULL DEFAULT 0,
    settings        JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (tenant_id, slug),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES categories (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_categories_tenant ON categories (tenant_id, position);
CREATE INDEX idx_categories_parent ON categories (parent_id);

CREATE TABLE nodes (
    id              UUID NOT NULL,
    tenant_id       UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    parent_id       UUID,
    author_id       UUID,
    kind            VARCHAR(32) NOT NULL,
    title           VARCHAR(255),
    slug            VARCHAR(255),
    excerpt         TEXT,
    category_id     UUID,
    status          VARCHAR(32) NOT NULL DEFAULT 'draft',
    position        INT NOT NULL DEFAULT 0,
    depth           INT NOT NULL DEFAULT 0,
    reply_count     INT NOT NULL DEFAULT 0,
    metadata        JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    published_at    TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES nodes (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, author_id) REFERENCES users (tenant_id, id)
        ON DELETE SET NULL (author_id),
    FOREIGN KEY (tenant_id, category_id) REFERENCES categories (tenant_id, id)
        ON DELETE SET NULL (category_id)
) PARTITION BY HASH (tenant_id);

CREATE TABLE nodes_p0 PARTITION OF nodes FOR VALUES WITH (MODULUS 8, REMAINDER 0);
CREATE TABLE nodes_p1 PARTITION OF nodes FOR VALUES WITH (MODULUS 8, REMAINDER 1);
CREATE TABLE nodes_p2 PARTITION OF nodes FOR VALUES WITH (MODULUS 8, REMAINDER 2);
CREATE TABLE nodes_p3 PARTITION OF nodes FOR VALUES WITH (MODULUS 8, REMAINDER 3);
CREATE TABLE nodes_p4 PARTITION OF nodes FOR VALUES WITH (MODULUS 8, REMAINDER 4);
CREATE TABLE nodes_p5 PARTITION OF nodes FOR VALUES WITH (MODULUS 8, REMAINDER 5);
CREATE TABLE nodes_p6 PARTITION OF nodes FOR VALUES WITH (MODULUS 8, REMAINDER 6);
CREATE TABLE nodes_p7 PARTITION OF nodes FOR VALUES WITH (MODULUS 8, REMAINDER 7);

CREATE UNIQUE INDEX uq_nodes_slug ON nodes (tenant_id, kind, slug) WHERE slug IS NOT NULL;
CREATE INDEX idx_nodes_id ON nodes (id);
CREATE INDEX idx_nodes_tenant_kind ON nodes (tenant_id, kind, status);
CREATE INDEX idx_nodes_parent ON nodes (tenant_id, parent_id);
CREATE INDEX idx_nodes_category ON nodes (tenant_id, category_id);
CREATE INDEX idx_nodes_author ON nodes (tenant_id, author_id);
CREATE INDEX idx_nodes_published ON nodes (tenant_id, kind, published_at DESC)
    WHERE status = 'published';

CREATE TABLE bodies (
    node_id         UUID NOT NULL,
    tenant_id       UUID NOT NULL,
    body            TEXT,
    format          VARCHAR(16) NOT NULL DEFAULT 'markdown',
    search_vector   TSVECTOR,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (tenant_id, node_id),
    FOREIGN KEY (tenant_id, node_id) REFERENCES nodes (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_bodies_search ON bodies USING GIN (search_vector);

CREATE TABLE tags (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name            VARCHAR(100) NOT NULL,
    slug            VARCHAR(100) NOT NULL,
    use_count       INT NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (tenant_id, slug),
    UNIQUE (tenant_id, id)
);
CREATE INDEX idx_tags_popular ON tags (tenant_id, use_count DESC);

-- Polymorphic link: no foreign key to the target; the services check the target exists in the
-- tenant, and the delete triggers below remove the links of a deleted node or product.
CREATE TABLE taggables (
    tenant_id       UUID NOT NULL,
    tag_id          UUID NOT NULL,
    target_type     VARCHAR(32) NOT NULL CHECK (target_type IN ('node', 'product')),
    target_id       UUID NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (tag_id, target_type, target_id),
    FOREIGN KEY (tenant_id, tag_id) REFERENCES tags (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_taggables_target ON taggables (tenant_id, target_type, target_id);

CREATE TABLE meta (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    target_type     VARCHAR(32) NOT NULL
        CHECK (target_type IN ('node', 'product', 'category', 'commerce_category')),
    target_id       UUID NOT NULL,
    title           VARCHAR(255),
    description     VARCHAR(500),
    keywords        VARCHAR(255),
    og_title        VARCHAR(255),
    og_description  VARCHAR(500),
    og_image        VARCHAR(500),
    og_type         VARCHAR(32),
    twitter_card    VARCHAR(32),
    no_index        BOOLEAN NOT NULL DEFAULT false,
    no_follow       BOOLEAN NOT NULL DEFAULT false,
    canonical_url   VARCHAR(500),
    structured_data JSONB,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (tenant_id, target_type, target_id)
);

CREATE TABLE media (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    uploaded_by     UUID,
    filename        VARCHAR(255) NOT NULL,
    original_name   VARCHAR(255) NOT NULL,
    mime_type       VARCHAR(100) NOT NULL,
    size            BIGINT NOT NULL CHECK (size >= 0),
    storage_path    VARCHAR(500) NOT NULL,
    storage_driver  VARCHAR(32) NOT NULL DEFAULT 'local',
    width           INT,
    height          INT,
    alt_text        VARCHAR(255),
    metadata        JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    FOREIGN KEY (tenant_id, uploaded_by) REFERENCES users (tenant_id, id)
        ON DELETE SET NULL (uploaded_by)
);
CREATE INDEX idx_media_tenant ON media (tenant_id);

CREATE TABLE tenant_modules (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    module_slug     VARCHAR(64) NOT NULL,
    enabled         BOOLEAN NOT NULL DEFAULT true,
    settings        JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (tenant_id, module_slug)
);

-- Denormalized counters, kept in the writing transaction by triggers so that cascaded deletes
-- (a category, a parent node, a tag) keep them right too.
CREATE FUNCTION rustok_nodes_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF OLD.category_id IS NOT NULL THEN
            UPDATE categories SET node_count = node_count - 1
             WHERE tenant_id = OLD.tenant_id AND id = OLD.category_id;
        END IF;
        IF OLD.parent_id IS NOT NULL AND OLD.kind = 'comment' THEN
            UPDATE nodes SET reply_count = reply_count - 1
             WHERE tenant_id = OLD.tenant_id AND id = OLD.parent_id;
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        IF NEW.category_id IS NOT NULL THEN
            UPDATE categories SET node_count = node_count + 1
             WHERE tenant_id = NEW.tenant_id AND id = NEW.category_id;
        END IF;
        IF NEW.parent_id IS NOT NULL AND NEW.kind = 'comment' THEN
            UPDATE nodes SET reply_count = reply_count + 1
             WHERE tenant_id = NEW.tenant_id AND id = NEW.parent_id;
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER trg_nodes_counters_ins AFTER INSERT ON nodes
    FOR EACH ROW EXECUTE FUNCTION rustok_nodes_counters();
CREATE TRIGGER trg_nodes_counters_del AFTER DELETE ON nodes
    FOR EACH ROW EXECUTE FUNCTION rustok_nodes_counters();
CREATE TRIGGER trg_nodes_counters_upd AFTER UPDATE OF category_id, parent_id, kind ON nodes
    FOR EACH ROW
    WHEN (OLD.category_id IS DISTINCT FROM NEW.category_id
          OR OLD.parent_id IS DISTINCT FROM NEW.parent_id
          OR OLD.kind IS DISTINCT FROM NEW.kind)
    EXECUTE FUNCTION rustok_nodes_counters();

CREATE FUNCTION rustok_taggables_counter() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tags SET use_count = use_count + 1 WHERE id = NEW.tag_id;
    ELSE
        UPDATE tags SET use_count = use_count - 1 WHERE id = OLD.tag_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER trg_taggables_counter AFTER INSERT OR DELETE ON taggables
    FOR EACH ROW EXECUTE FUNCTION rustok_taggables_counter();

-- Polymorphic children (tags, SEO meta) of a deleted target go with it.
CREATE FUNCTION rustok_drop_polymorphic() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM taggables
     WHERE tenant_id = OLD.tenant_id AND target_type = TG_ARGV[0] AND target_id = OLD.id;
    DELETE FROM meta
     WHERE tenant_id = OLD.tenant_id AND target_type = TG_ARGV[0] AND target_id = OLD.id;
    RETURN NULL;
END $$;

CREATE TRIGGER trg_nodes_drop_polymorphic AFTER DELETE ON nodes
    FOR EACH ROW EXECUTE FUNCTION rustok_drop_polymorphic('node');
CREATE TRIGGER trg_categories_drop_polymorphic AFTER DELETE ON categories
    FOR EACH ROW EXECUTE FUNCTION rustok_drop_polymorphic('category');
