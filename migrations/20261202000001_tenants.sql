-- Managed tenants (TENANT_ENABLED=true, TENANT_BACKEND=postgres) and their API keys, kept as
-- SHA-256 hashes only. Limits and metadata are JSON objects (written and read as text).
CREATE TABLE IF NOT EXISTS tenants (
    tenant_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    limits      JSON NOT NULL,
    metadata    JSON NOT NULL,
    -- Keys client tokens are verified with ([{kid, algorithm, key}]); HS256 secrets are kept as
    -- given, since verifying needs them.
    token_keys  JSON NOT NULL DEFAULT '[]',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS tenant_keys (
    key_id      TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    key_hash    BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS tenant_keys_by_tenant ON tenant_keys (tenant_id, created_at, key_id);
