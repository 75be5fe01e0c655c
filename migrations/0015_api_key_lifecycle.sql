-- API keys get an optional expiry (a key past it is refused like a revoked one), the time it
-- was last used (written at most once a minute per key, never per request), an optional
-- label for people, and the key it replaced when it was made by a rotation.
ALTER TABLE api_keys
    ADD COLUMN expires_at   TIMESTAMPTZ,
    ADD COLUMN last_used_at TIMESTAMPTZ,
    ADD COLUMN label        TEXT NOT NULL DEFAULT '' CHECK (length(label) <= 100),
    ADD COLUMN rotated_from UUID REFERENCES api_keys(id) ON DELETE SET NULL;
