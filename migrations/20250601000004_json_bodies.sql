-- Notification bodies as `json` instead of `jsonb`: `json` keeps the text as written, and `jsonb`
-- refuses a `\u0000` escape that JSON (and therefore a notification payload) allows.
ALTER TABLE offline_queue ALTER COLUMN body TYPE json USING body::json;
ALTER TABLE ack_records ALTER COLUMN notification TYPE json USING notification::json;

DROP FUNCTION offline_queue_push(text, text, uuid, jsonb, timestamptz, timestamptz, bigint);
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
