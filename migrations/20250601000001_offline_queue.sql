-- Offline queue (src/adapters/postgres/offline_queue.rs): notifications waiting for users with no
-- live connection, replayed in `seq` order per (tenant_id, user_id).
CREATE TABLE offline_queue (
    seq             bigserial   PRIMARY KEY,
    tenant_id       text        NOT NULL,
    user_id         text        NOT NULL,
    notification_id uuid        NOT NULL,
    -- json, not jsonb: kept as written, and jsonb refuses the \u0000 escape a payload may carry.
    body            json        NOT NULL,
    enqueued_at     timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL
);

-- Replay (peek), remove and the overflow trim all walk one user's entries in order.
CREATE INDEX offline_queue_user_seq ON offline_queue (tenant_id, user_id, seq);
-- purge_expired.
CREATE INDEX offline_queue_expires_at ON offline_queue (expires_at);

-- Appends one entry and drops the user's oldest beyond p_max; returns how many were dropped.
-- Enqueues of one user are serialized by a transaction-scoped advisory lock, so `seq` order is
-- commit order: a concurrent peek never sees a later entry before an earlier one, and the trim
-- counts exactly. One call is one statement, hence one transaction and one round trip.
CREATE FUNCTION offline_queue_push(
    p_tenant      text,
    p_user        text,
    p_id          uuid,
    p_body        json,
    p_enqueued_at timestamptz,
    p_expires_at  timestamptz,
    p_max         bigint
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    dropped bigint;
BEGIN
    -- 7001 namespaces these locks; the second key is the user's hash (a collision only serializes).
    PERFORM pg_advisory_xact_lock(7001, hashtext(p_tenant || ':' || p_user));
    INSERT INTO offline_queue (tenant_id, user_id, notification_id, body, enqueued_at, expires_at)
    VALUES (p_tenant, p_user, p_id, p_body, p_enqueued_at, p_expires_at);
    DELETE FROM offline_queue
    WHERE seq IN (
        SELECT seq FROM offline_queue
        WHERE tenant_id = p_tenant AND user_id = p_user
        ORDER BY seq DESC
        OFFSET p_max
    );
    GET DIAGNOSTICS dropped = ROW_COUNT;
    RETURN dropped;
END;
$$;
