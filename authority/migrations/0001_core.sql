-- The core model (SPEC section 1): orgs, users, roles, devices, archives,
-- legal hold, settings, API tokens, and the LDAP server list.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE ldap_servers (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL,
    url                  TEXT NOT NULL,
    start_tls            INTEGER NOT NULL DEFAULT 0,
    ca_certificate       TEXT NOT NULL DEFAULT '',
    allow_unsafe_certs   INTEGER NOT NULL DEFAULT 0,
    bind_anonymously     INTEGER NOT NULL DEFAULT 0,
    bind_dn              TEXT NOT NULL DEFAULT '',
    bind_password_sealed TEXT NOT NULL DEFAULT '',
    search_filter        TEXT NOT NULL,
    email_attribute      TEXT NOT NULL DEFAULT 'mail',
    first_name_attribute TEXT NOT NULL DEFAULT 'givenName',
    last_name_attribute  TEXT NOT NULL DEFAULT 'sn',
    timeout_seconds      INTEGER NOT NULL DEFAULT 30,
    page_size            INTEGER NOT NULL DEFAULT 500,
    follow_referrals     INTEGER NOT NULL DEFAULT 0,
    active_script        TEXT NOT NULL DEFAULT 'function(entry) { return true; }',
    org_name_script      TEXT NOT NULL DEFAULT '',
    role_name_script     TEXT NOT NULL DEFAULT '',
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

CREATE TABLE orgs (
    id                INTEGER PRIMARY KEY,
    name              TEXT NOT NULL COLLATE NOCASE UNIQUE,
    parent_id         INTEGER REFERENCES orgs(id),
    registration_key  TEXT NOT NULL UNIQUE,
    auth_method       TEXT NOT NULL DEFAULT '' CHECK (auth_method IN ('', 'local', 'ldap')),
    default_roles     TEXT NOT NULL DEFAULT '["Desktop User","PROe User"]', -- JSON array
    archive_hold_days INTEGER,                                              -- NULL: inherited
    created_at        TEXT NOT NULL
);
CREATE INDEX orgs_parent ON orgs(parent_id);

CREATE TABLE org_ldap_servers (
    org_id    INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    server_id INTEGER NOT NULL REFERENCES ldap_servers(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    PRIMARY KEY (org_id, server_id)
);
CREATE INDEX org_ldap_servers_server ON org_ldap_servers(server_id);

CREATE TABLE roles (
    name       TEXT PRIMARY KEY COLLATE NOCASE,
    builtin    INTEGER NOT NULL DEFAULT 0,
    in_mapping INTEGER NOT NULL DEFAULT 0 -- on the Role Mapping list: LDAP scripts may manage it
);
INSERT INTO roles(name, builtin, in_mapping) VALUES
    ('Desktop User', 1, 1),
    ('PROe User', 1, 1),
    ('SYSADMIN', 1, 0),
    ('Org Admin', 1, 1),
    ('All Org Admin', 1, 1),
    ('Org Manager', 1, 1),
    ('All Org Manager', 1, 1),
    ('Org Help Desk', 1, 1),
    ('Org Security Viewer', 1, 1),
    ('Server Administrator', 1, 0);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    username       TEXT NOT NULL COLLATE NOCASE UNIQUE,
    email          TEXT NOT NULL DEFAULT '',
    first_name     TEXT NOT NULL DEFAULT '',
    last_name      TEXT NOT NULL DEFAULT '',
    org_id         INTEGER NOT NULL REFERENCES orgs(id),
    status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'blocked', 'deactivated')),
    -- why the user is blocked or deactivated: 'admin', 'dirsync' or 'legal-hold-pending'
    status_reason  TEXT NOT NULL DEFAULT '' CHECK (status_reason IN ('', 'admin', 'dirsync', 'legal-hold-pending')),
    -- for 'legal-hold-pending': who asked for the deactivation ('admin' or 'dirsync')
    pending_reason TEXT NOT NULL DEFAULT '' CHECK (pending_reason IN ('', 'admin', 'dirsync')),
    password_hash  TEXT NOT NULL DEFAULT '',
    ldap_server_id INTEGER REFERENCES ldap_servers(id) ON DELETE SET NULL,
    ldap_dn        TEXT NOT NULL DEFAULT '',
    ldap_uid       TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX users_org ON users(org_id);

CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role    TEXT NOT NULL COLLATE NOCASE REFERENCES roles(name),
    PRIMARY KEY (user_id, role)
);

CREATE TABLE devices (
    guid       TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT NOT NULL DEFAULT '',
    status     TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deactivated')),
    created_at TEXT NOT NULL
);
CREATE INDEX devices_user ON devices(user_id);

CREATE TABLE archives (
    guid                    TEXT PRIMARY KEY,
    device_guid             TEXT NOT NULL REFERENCES devices(guid) ON DELETE CASCADE,
    state                   TEXT NOT NULL DEFAULT 'normal' CHECK (state IN ('normal', 'cold', 'expired')),
    cold_storage_expires_at TEXT, -- RFC 3339 UTC, set while cold or expired
    created_at              TEXT NOT NULL
);
CREATE INDEX archives_device ON archives(device_guid);
CREATE INDEX archives_cold ON archives(state, cold_storage_expires_at);

CREATE TABLE legal_holds (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    active     INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);

CREATE TABLE legal_hold_custodians (
    hold_id  INTEGER NOT NULL REFERENCES legal_holds(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    added_at TEXT NOT NULL,
    PRIMARY KEY (hold_id, user_id)
);
CREATE INDEX legal_hold_custodians_user ON legal_hold_custodians(user_id);

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY, -- SHA-256 of the token, hex
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
