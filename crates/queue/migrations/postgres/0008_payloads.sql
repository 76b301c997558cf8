-- A job's payload (the alert and its group, JSON) is stored once per alert and notification,
-- not once per target: the jobs of one alert to four targets point at one row, and the job's
-- own row stays small, so writing it at enqueue and again at its outcome rewrites a fraction
-- of the pages. Jobs written before keep their payload inline (`payload_id` NULL); new ones
-- keep an empty `payload`. Retention and purges delete a payload with its last job.
CREATE TABLE IF NOT EXISTS payloads (
    id   BIGSERIAL PRIMARY KEY,
    body TEXT    NOT NULL
);
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS payload_id BIGINT;
CREATE INDEX IF NOT EXISTS jobs_payload ON jobs (payload_id) WHERE payload_id IS NOT NULL;
