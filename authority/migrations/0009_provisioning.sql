-- migrate: foreign_keys off
-- Provisioning with SCIM 2.0 (docs/rules.md section 9). A user's source may be a provisioning provider, and
-- a provider blocks and deactivates for the reason 'provisioning': SQLite cannot alter the CHECK constraints
-- of users, so the table is rebuilt (SQLite's twelve steps, as in 0007), keeping every row and its id.
CREATE TABLE provisioning_providers (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL COLLATE NOCASE UNIQUE,
    credential_type    TEXT NOT NULL CHECK (credential_type IN ('token', 'basic')),
    -- SHA-256 of the token, or of the basic password (both random, 256 bits: a slow hash adds nothing)
    secret_hash        TEXT NOT NULL,
    basic_username     TEXT NOT NULL DEFAULT '',
    org_mapping        TEXT NOT NULL,          -- JSON: provisioning.OrgMapping
    role_mapping       TEXT NOT NULL,          -- JSON: provisioning.RoleMapping
    deactivation_delay INTEGER NOT NULL,       -- nanoseconds
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);

CREATE TABLE users_new (
    id             INTEGER PRIMARY KEY,
    username       TEXT NOT NULL COLLATE NOCASE UNIQUE,
    email          TEXT NOT NULL DEFAULT '',
    first_name     TEXT NOT NULL DEFAULT '',
    last_name      TEXT NOT NULL DEFAULT '',
    org_id         INTEGER NOT NULL REFERENCES orgs(id),
    status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'blocked', 'deactivated')),
    -- why the user is blocked or deactivated
    status_reason  TEXT NOT NULL DEFAULT '' CHECK (status_reason IN ('', 'admin', 'dirsync', 'provisioning', 'legal-hold-pending')),
    -- for 'legal-hold-pending': who asked for the deactivation
    pending_reason TEXT NOT NULL DEFAULT '' CHECK (pending_reason IN ('', 'admin', 'dirsync', 'provisioning')),
    password_hash  TEXT NOT NULL DEFAULT '',
    ldap_server_id INTEGER REFERENCES ldap_servers(id) ON DELETE SET NULL,
    ldap_dn        TEXT NOT NULL DEFAULT '',
    ldap_uid       TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    username_key   TEXT,
    title          TEXT NOT NULL DEFAULT '',
    department     TEXT NOT NULL DEFAULT '',
    division       TEXT NOT NULL DEFAULT '',
    employee_type  TEXT NOT NULL DEFAULT '',
    employee_number TEXT NOT NULL DEFAULT '',
    city           TEXT NOT NULL DEFAULT '',
    state          TEXT NOT NULL DEFAULT '',
    country        TEXT NOT NULL DEFAULT '',
    manager_id     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    -- the provisioning provider that is the user's source (NULL: local or LDAP)
    provider_id    INTEGER REFERENCES provisioning_providers(id) ON DELETE SET NULL,
    external_id    TEXT NOT NULL DEFAULT '',
    -- deleted by its provider: kept (deactivated) for its archives, invisible to the provider
    scim_deleted   INTEGER NOT NULL DEFAULT 0,
    -- when a provider's deactivation is due (RFC 3339 UTC), NULL when none is pending
    deactivate_at  TEXT
);
INSERT INTO users_new(id, username, email, first_name, last_name, org_id, status, status_reason, pending_reason,
        password_hash, ldap_server_id, ldap_dn, ldap_uid, created_at, updated_at, username_key, title, department,
        division, employee_type, employee_number, city, state, country, manager_id)
    SELECT id, username, email, first_name, last_name, org_id, status, status_reason, pending_reason,
        password_hash, ldap_server_id, ldap_dn, ldap_uid, created_at, updated_at, username_key, title, department,
        division, employee_type, employee_number, city, state, country, manager_id
    FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE INDEX users_org ON users(org_id);
CREATE UNIQUE INDEX users_username_key ON users(username_key);
CREATE INDEX users_provider ON users(provider_id, external_id);
CREATE INDEX users_deactivate_at ON users(deactivate_at) WHERE deactivate_at IS NOT NULL;

CREATE TABLE scim_groups (
    id            INTEGER PRIMARY KEY,
    provider_id   INTEGER NOT NULL REFERENCES provisioning_providers(id) ON DELETE CASCADE,
    display_name  TEXT NOT NULL,
    external_id   TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX scim_groups_provider ON scim_groups(provider_id);

CREATE TABLE scim_group_members (
    group_id INTEGER NOT NULL REFERENCES scim_groups(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX scim_group_members_user ON scim_group_members(user_id);

-- The provider's sync log: one line per change a provider made.
CREATE TABLE provisioning_log (
    id          INTEGER PRIMARY KEY,
    provider_id INTEGER NOT NULL REFERENCES provisioning_providers(id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    line        TEXT NOT NULL
);
CREATE INDEX provisioning_log_provider ON provisioning_log(provider_id, id);
