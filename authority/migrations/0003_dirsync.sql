-- DIRSYNC history (SPEC section 6): one row per run, its per-org counts, and
-- one row per changed user (plus warnings and script errors), bounded per run.

CREATE TABLE dirsync_runs (
    id              INTEGER PRIMARY KEY,
    trigger         TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual', 'simulate')),
    simulated       INTEGER NOT NULL DEFAULT 0,
    override_valve  INTEGER NOT NULL DEFAULT 0,
    started_by      TEXT NOT NULL DEFAULT '',   -- "ID/USERNAME" of the administrator, or "system"
    started_at      TEXT NOT NULL,              -- RFC 3339 UTC with milliseconds
    finished_at     TEXT,                       -- NULL while running
    status          TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'valve')),
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
CREATE INDEX dirsync_runs_status ON dirsync_runs(status);

-- Per-org counts of a run (org name as it was at the run).
CREATE TABLE dirsync_run_orgs (
    run_id        INTEGER NOT NULL REFERENCES dirsync_runs(id) ON DELETE CASCADE,
    org_id        INTEGER NOT NULL,
    org_name      TEXT NOT NULL,
    users         INTEGER NOT NULL DEFAULT 0,
    deactivated   INTEGER NOT NULL DEFAULT 0,
    activated     INTEGER NOT NULL DEFAULT 0,
    moved         INTEGER NOT NULL DEFAULT 0,
    roles_changed INTEGER NOT NULL DEFAULT 0,
    blocked       INTEGER NOT NULL DEFAULT 0,
    errors        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, org_id)
);

-- One line per change (or warning, or script error). No foreign key to users
-- or orgs: history outlives them. At most a bounded number of lines is kept
-- per run; dirsync_runs.changes_total counts them all.
CREATE TABLE dirsync_changes (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL REFERENCES dirsync_runs(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL DEFAULT 0,
    username   TEXT NOT NULL DEFAULT '',
    org_id     INTEGER NOT NULL DEFAULT 0,
    change     TEXT NOT NULL,
    from_value TEXT NOT NULL DEFAULT '',
    to_value   TEXT NOT NULL DEFAULT '',
    message    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX dirsync_changes_run ON dirsync_changes(run_id, id);
