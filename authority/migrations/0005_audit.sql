-- The audit log (docs/rules.md section 10; package internal/audit): every administrator's change, one row
-- each, newest with the highest id. No foreign keys: an entry outlives whatever it names.
CREATE TABLE IF NOT EXISTS audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,                -- UTC, RFC 3339 with milliseconds
    actor_id  INTEGER NOT NULL DEFAULT 0,   -- the user who acted; 0: not a user (the command line)
    actor     TEXT NOT NULL,                -- the username then
    actor_key TEXT NOT NULL,                -- the username case-folded (audit.FoldKey), for the actor filter
    address   TEXT NOT NULL DEFAULT '',     -- the client address
    action    TEXT NOT NULL,                -- "user.block", "ldap.server.update", ...
    target    TEXT NOT NULL DEFAULT '',     -- "user:5/jsmith", "org:3/Staff", "settings:ldap", ...
    changes   TEXT NOT NULL DEFAULT '[]'    -- JSON [{"field","before","after","secret"}]; secrets only "(changed)"
);
CREATE INDEX IF NOT EXISTS audit_log_actor ON audit_log(actor_key);
CREATE INDEX IF NOT EXISTS audit_log_action ON audit_log(action);
