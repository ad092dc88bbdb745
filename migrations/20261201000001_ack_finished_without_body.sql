-- A finished ACK record (acknowledged or expired) keeps only its status and times: the notification
-- is needed while pending (for a redelivery) and is cleared when the record finishes.
ALTER TABLE ack_records ALTER COLUMN notification DROP NOT NULL;
UPDATE ack_records SET notification = NULL WHERE status <> 'pending';
