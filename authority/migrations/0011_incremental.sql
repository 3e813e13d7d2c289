-- Incremental runs (docs/rules.md section 6.1): each LDAP server's change tracking, the tracking state each
-- server's last committed run left, and a run's mode and tracking.
ALTER TABLE ldap_servers ADD COLUMN change_tracking TEXT NOT NULL DEFAULT 'auto';
CREATE TABLE dirsync_tracking (
    server_id  INTEGER PRIMARY KEY REFERENCES ldap_servers(id) ON DELETE CASCADE,
    state      TEXT NOT NULL,          -- JSON: ldapauth.TrackingState
    run_id     INTEGER NOT NULL,       -- the run that saved it
    updated_at TEXT NOT NULL
);
ALTER TABLE dirsync_runs ADD COLUMN mode TEXT NOT NULL DEFAULT 'full';
ALTER TABLE dirsync_runs ADD COLUMN tracking TEXT NOT NULL DEFAULT '{}'; -- JSON: server id → what the run used
