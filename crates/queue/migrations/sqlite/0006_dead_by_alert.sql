-- Replay looks up the newer dead letters of an alert (a newer one wins). Dead letters are few,
-- so this partial index takes a write only when a job dies, is purged or is swept.
CREATE INDEX IF NOT EXISTS jobs_dead_by_alert ON jobs (target, fingerprint, id) WHERE state = 'dead';
