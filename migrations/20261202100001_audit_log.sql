-- Administrative actions (issue 15): who did what to what, when, from where. Append-only; `id` is the
-- cursor of GET /api/v1/audit (newest first).
CREATE TABLE IF NOT EXISTS audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    details     JSONB NOT NULL DEFAULT '{}'::jsonb,
    source_ip   TEXT,
    request_id  TEXT
);

CREATE INDEX IF NOT EXISTS audit_log_tenant_id ON audit_log (tenant_id, id DESC);
