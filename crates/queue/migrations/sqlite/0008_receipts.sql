-- Notification history: one receipt per alert per request (webhook, API, submit), with where
-- it was routed, which targets filtered it out and why, and which deduplicated it. Jobs point
-- at their receipt; a replay points at the receipt of the dead letter it replays. Times are
-- unix milliseconds; lists are JSON. Retention deletes a receipt once its jobs are gone.
CREATE TABLE IF NOT EXISTS receipts (
    id           INTEGER PRIMARY KEY,
    fingerprint  TEXT    NOT NULL,
    alertname    TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    labels       TEXT    NOT NULL,              -- JSON object
    annotations  TEXT    NOT NULL,              -- JSON object
    received_at  INTEGER NOT NULL,
    source       TEXT    NOT NULL,              -- webhook | api | submit
    receiver     TEXT    NOT NULL,
    group_key    TEXT    NOT NULL,
    filtered     TEXT    NOT NULL,              -- JSON [[target, reason], …]
    deduplicated TEXT    NOT NULL               -- JSON [target, …]
);
-- newest first, and the cursor (received_at, id)
CREATE INDEX IF NOT EXISTS receipts_recent ON receipts (received_at, id);
CREATE INDEX IF NOT EXISTS receipts_alertname ON receipts (alertname, received_at, id);
CREATE INDEX IF NOT EXISTS receipts_fingerprint ON receipts (fingerprint, received_at, id);
ALTER TABLE jobs ADD COLUMN receipt_id INTEGER;
CREATE INDEX IF NOT EXISTS jobs_receipt ON jobs (receipt_id) WHERE receipt_id IS NOT NULL;
