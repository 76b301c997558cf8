-- Jobs: one alert (by fingerprint) for one target.
CREATE TABLE IF NOT EXISTS jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_key    TEXT    NOT NULL,
    target          TEXT    NOT NULL,
    fingerprint     TEXT    NOT NULL,
    status          TEXT    NOT NULL,           -- firing | resolved
    priority        INTEGER NOT NULL,           -- 0 low, 1 medium, 2 high
    state           TEXT    NOT NULL,           -- pending | in_flight | done | dead | superseded
    attempts        INTEGER NOT NULL DEFAULT 0,
    sort_key        INTEGER NOT NULL,           -- created_at minus the priority boost (ms)
    created_at      INTEGER NOT NULL,           -- unix ms
    updated_at      INTEGER NOT NULL,
    next_run_at     INTEGER NOT NULL,
    lease_until     INTEGER,
    superseded_by   INTEGER,
    last_error      TEXT,
    last_error_kind TEXT,
    last_status_code INTEGER,
    payload         TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (state, next_run_at);
CREATE INDEX IF NOT EXISTS jobs_active_order ON jobs (target, fingerprint, id)
    WHERE state IN ('pending', 'in_flight');
CREATE INDEX IF NOT EXISTS jobs_target_state ON jobs (target, state);

-- Every delivery attempt, for the audit trail.
CREATE TABLE IF NOT EXISTS attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id      INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    outcome     TEXT    NOT NULL,               -- delivered | retry | dead
    status_code INTEGER,
    latency_ms  INTEGER NOT NULL,
    error_kind  TEXT,
    error       TEXT
);
CREATE INDEX IF NOT EXISTS attempts_job ON attempts (job_id);

-- What each target was last told about each alert.
CREATE TABLE IF NOT EXISTS notification_state (
    target                TEXT NOT NULL,
    fingerprint           TEXT NOT NULL,
    last_status           TEXT NOT NULL,
    last_enqueued_at      INTEGER NOT NULL,
    last_delivered_status TEXT,
    last_delivered_at     INTEGER,
    vendor_state          TEXT,
    PRIMARY KEY (target, fingerprint)
);
