-- Template store (src/adapters/postgres/template_store.rs): notification templates keyed by
-- (tenant_id, template_id). The HTTP API manages the `default` tenant's templates only for now; the
-- tenant column is there so that per-tenant templates need no schema change.
CREATE TABLE templates (
    tenant_id        text        NOT NULL,
    -- Byte order ("C"), so `list` orders ids the same way on every server and in every store.
    template_id      text        COLLATE "C" NOT NULL,
    name             text        NOT NULL,
    event_type       text        NOT NULL,
    -- json, not jsonb: stored as written, and jsonb would refuse a \u0000 that JSON allows.
    payload_template json        NOT NULL,
    -- NULL: the template sets no default and a send without its own gets Normal.
    priority         text        CHECK (priority IN ('Low', 'Normal', 'High', 'Critical')),
    ttl_seconds      integer     CHECK (ttl_seconds > 0),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    -- Also the index behind `list` (one tenant, ordered by id).
    PRIMARY KEY (tenant_id, template_id)
);
