-- A run's row from its first landing on (issue 14): each landing transaction upserts the row
-- and adds its counts, so a killed run's committed articles are never without their run.
-- `status` says how the run ended; `pid` and `host` let a later run tell a dead one from one
-- still going; `failed_sources` counts the sources (a feed, a folder) that failed as a whole.
ALTER TABLE ingest_runs ADD COLUMN status VARCHAR;
ALTER TABLE ingest_runs ADD COLUMN failed_sources INTEGER DEFAULT 0;
ALTER TABLE ingest_runs ADD COLUMN pid INTEGER;
ALTER TABLE ingest_runs ADD COLUMN host VARCHAR;
UPDATE ingest_runs
SET status = CASE WHEN finished_at IS NULL THEN 'interrupted' ELSE 'finished' END,
    failed_sources = 0;
