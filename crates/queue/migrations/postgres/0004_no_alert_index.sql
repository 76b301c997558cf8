-- Lookups by alert use the index of pending and in-flight jobs (and the notification state for
-- delivered ones): a full (target, fingerprint, id) index took a random insert per job.
DROP INDEX IF EXISTS jobs_alert;
