-- ACK store (src/adapters/postgres/ack_store.rs): delivered notifications awaiting their user's ACK.
-- Finished records (acknowledged, expired) are kept until retain_until so that a double or late ACK
-- gets a precise error, then deleted by expire_due.
CREATE TABLE ack_records (
    notification_id uuid        NOT NULL,
    tenant_id       text        NOT NULL,
    user_id         text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('pending', 'acknowledged', 'expired')),
    notification    json        NOT NULL,
    delivered_at    timestamptz NOT NULL,
    deadline        timestamptz NOT NULL,
    finished_at     timestamptz,
    retain_until    timestamptz NOT NULL,
    -- The id leads so that "was this id delivered to someone else?" uses the same index.
    PRIMARY KEY (notification_id, tenant_id, user_id)
);

CREATE INDEX ack_records_pending_deadline ON ack_records (deadline) WHERE status = 'pending';
CREATE INDEX ack_records_retain_until ON ack_records (retain_until) WHERE status <> 'pending';

-- Lifetime counters, spread over 16 slots so that concurrent ACKs rarely wait on the same row;
-- stats() sums them.
CREATE TABLE ack_counters (
    slot              smallint PRIMARY KEY,
    acknowledged      bigint   NOT NULL DEFAULT 0,
    expired           bigint   NOT NULL DEFAULT 0,
    ack_time_ms_total bigint   NOT NULL DEFAULT 0
);
INSERT INTO ack_counters (slot) SELECT generate_series(0, 15);
