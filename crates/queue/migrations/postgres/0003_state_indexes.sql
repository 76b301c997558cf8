-- Indexes that a job's state changes touch as little as possible. Partial indexes hold only
-- the jobs a query looks for (waiting, in flight, finished), so claiming a job and recording
-- its outcome move it between small indexes instead of rewriting entries in every index that
-- starts with `state`. The alert key (target, fingerprint, id) never changes after insert.
DROP INDEX IF EXISTS jobs_ready;
DROP INDEX IF EXISTS jobs_claim_order;
DROP INDEX IF EXISTS jobs_target_state;
-- claims: waiting jobs in priority order
CREATE INDEX IF NOT EXISTS jobs_pending_order ON jobs (sort_key, id) WHERE state = 'pending';
-- when the engine should look next
CREATE INDEX IF NOT EXISTS jobs_pending_due ON jobs (next_run_at) WHERE state = 'pending';
-- the lease reaper
CREATE INDEX IF NOT EXISTS jobs_in_flight ON jobs (lease_until) WHERE state = 'in_flight';
-- retention
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (updated_at) WHERE state IN ('done', 'superseded', 'dead');
-- supersede, replay, listing by target
CREATE INDEX IF NOT EXISTS jobs_alert ON jobs (target, fingerprint, id);
