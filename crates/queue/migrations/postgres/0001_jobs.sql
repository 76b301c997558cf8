-- Jobs: one alert (by fingerprint) for one target. Times are unix milliseconds.
CREATE TABLE IF NOT EXISTS jobs (
    id               BIGSERIAL PRIMARY KEY,
    delivery_key     TEXT     NOT NULL,
    target           TEXT     NOT NULL,
    fingerprint      TEXT     NOT NULL,
    status           TEXT     NOT NULL,
    priority         BIGINT   NOT NULL,
    state            TEXT     NOT NULL,
    attempts         BIGINT   NOT NULL DEFAULT 0,
    sort_key         BIGINT   NOT NULL,
    created_at       BIGINT   NOT NULL,
    updated_at       BIGINT   NOT NULL,
    next_run_at      BIGINT   NOT NULL,
    lease_until      BIGINT,
    lease_owner      TEXT,
    superseded_by    BIGINT,
    last_error       TEXT,
    last_error_kind  TEXT,
    last_status_code BIGINT,
    replayed_at      BIGINT,
    replayed_as      BIGINT,
    payload          TEXT     NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (state, next_run_at);
CREATE INDEX IF NOT EXISTS jobs_active_order ON jobs (target, fingerprint, id)
    WHERE state IN ('pending', 'in_flight');
CREATE INDEX IF NOT EXISTS jobs_target_state ON jobs (target, state);

CREATE TABLE IF NOT EXISTS attempts (
    id          BIGSERIAL PRIMARY KEY,
    job_id      BIGINT NOT NULL,
    attempt     BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    outcome     TEXT   NOT NULL,
    status_code BIGINT,
    latency_ms  BIGINT NOT NULL,
    error_kind  TEXT,
    error       TEXT
);
CREATE INDEX IF NOT EXISTS attempts_job ON attempts (job_id);

CREATE TABLE IF NOT EXISTS notification_state (
    target                TEXT   NOT NULL,
    fingerprint           TEXT   NOT NULL,
    last_status           TEXT   NOT NULL,
    last_enqueued_at      BIGINT NOT NULL,
    last_delivered_status TEXT,
    last_delivered_at     BIGINT,
    vendor_state          TEXT,
    PRIMARY KEY (target, fingerprint)
);
