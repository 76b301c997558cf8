-- The stats service's trend history, kept across restarts: one row per sample of a series, the
-- sample an opaque JSON document. Times are unix milliseconds. Rows older than the stats
-- retention are deleted as new ones are written.
CREATE TABLE IF NOT EXISTS stats_samples (
    series TEXT    NOT NULL,
    at     INTEGER NOT NULL,
    sample TEXT    NOT NULL,
    PRIMARY KEY (series, at)
) WITHOUT ROWID;
