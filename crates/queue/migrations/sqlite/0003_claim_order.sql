-- Claims walk pending jobs in priority order and stop at the batch size.
CREATE INDEX IF NOT EXISTS jobs_claim_order ON jobs (state, sort_key, id);
