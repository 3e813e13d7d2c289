-- migrate: foreign_keys off
-- Operations (docs/rules.md section 10): a sync run can be cancelled (by an administrator, at shutdown, or
-- by syncTimeout), so dirsync_runs.status gains 'cancelled'. SQLite cannot alter a CHECK constraint: the
-- table is rebuilt (SQLite's documented twelve steps: foreign keys off for this migration, new table, copy,
-- drop, rename, indexes again, foreign_key_check), keeping every row, its id and its children
-- (dirsync_run_orgs, dirsync_changes), which refer to it by name.
CREATE TABLE dirsync_runs_new (
    id              INTEGER PRIMARY KEY,
    trigger         TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual', 'simulate')),
    simulated       INTEGER NOT NULL DEFAULT 0,
    override_valve  INTEGER NOT NULL DEFAULT 0,
    started_by      TEXT NOT NULL DEFAULT '',   -- "ID/USERNAME" of the administrator, or "system"
    started_at      TEXT NOT NULL,              -- RFC 3339 UTC with milliseconds
    finished_at     TEXT,                       -- NULL while running
    status          TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'valve', 'cancelled')),
    users           INTEGER NOT NULL DEFAULT 0,
    deactivated     INTEGER NOT NULL DEFAULT 0,
    activated       INTEGER NOT NULL DEFAULT 0,
    moved           INTEGER NOT NULL DEFAULT 0,
    roles_changed   INTEGER NOT NULL DEFAULT 0,
    blocked         INTEGER NOT NULL DEFAULT 0,
    errors          INTEGER NOT NULL DEFAULT 0,
    warnings        INTEGER NOT NULL DEFAULT 0,
    identified      INTEGER NOT NULL DEFAULT 0, -- users identified for deactivation (valve input)
    changes_total   INTEGER NOT NULL DEFAULT 0, -- change lines produced, kept or not
    message         TEXT NOT NULL DEFAULT ''
);
INSERT INTO dirsync_runs_new(id, trigger, simulated, override_valve, started_by, started_at, finished_at, status,
        users, deactivated, activated, moved, roles_changed, blocked, errors, warnings, identified, changes_total, message)
    SELECT id, trigger, simulated, override_valve, started_by, started_at, finished_at, status,
        users, deactivated, activated, moved, roles_changed, blocked, errors, warnings, identified, changes_total, message
    FROM dirsync_runs;
DROP TABLE dirsync_runs;
ALTER TABLE dirsync_runs_new RENAME TO dirsync_runs;
CREATE INDEX dirsync_runs_status ON dirsync_runs(status);

-- /readyz proves that the database can be written by updating this one row.
CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at TEXT NOT NULL
);
INSERT INTO health_probe(id, at) VALUES (1, '');
