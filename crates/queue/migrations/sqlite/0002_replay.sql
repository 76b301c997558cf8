-- Dead-letter replay bookkeeping and lease ownership.
ALTER TABLE jobs ADD COLUMN replayed_at INTEGER;
ALTER TABLE jobs ADD COLUMN replayed_as INTEGER;
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
