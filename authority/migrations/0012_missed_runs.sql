-- The missed-run threshold (docs/rules.md section 6.1): how many consecutive runs in a row have not found a
-- directory user; a run deactivates it only once that reaches missedRunsBeforeDeactivation.
ALTER TABLE users ADD COLUMN dirsync_misses INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dirsync_runs ADD COLUMN missed TEXT NOT NULL DEFAULT '{}'; -- JSON: misses so far → users waiting
