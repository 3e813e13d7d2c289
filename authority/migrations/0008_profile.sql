-- The profile attributes of a user (SPEC section 1, docs/rules.md section 1): one model whatever the source
-- (local, an LDAP server, a provisioning provider). manager_id names another user; deleting that user
-- leaves the manager empty.
ALTER TABLE users ADD COLUMN title TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN department TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN division TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN employee_type TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN employee_number TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN city TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN state TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN country TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN manager_id INTEGER REFERENCES users(id) ON DELETE SET NULL;
-- ON DELETE SET NULL looks the reports of a deleted user up by manager_id.
CREATE INDEX users_manager ON users(manager_id);

-- ldapauth: the optional profile attribute mapping of a server (SPEC section 3); '' is not mapped.
ALTER TABLE ldap_servers ADD COLUMN title_attribute TEXT NOT NULL DEFAULT '';
ALTER TABLE ldap_servers ADD COLUMN department_attribute TEXT NOT NULL DEFAULT '';
ALTER TABLE ldap_servers ADD COLUMN division_attribute TEXT NOT NULL DEFAULT '';
ALTER TABLE ldap_servers ADD COLUMN employee_type_attribute TEXT NOT NULL DEFAULT '';
ALTER TABLE ldap_servers ADD COLUMN manager_attribute TEXT NOT NULL DEFAULT '';
ALTER TABLE ldap_servers ADD COLUMN city_attribute TEXT NOT NULL DEFAULT '';
ALTER TABLE ldap_servers ADD COLUMN state_attribute TEXT NOT NULL DEFAULT '';
ALTER TABLE ldap_servers ADD COLUMN country_attribute TEXT NOT NULL DEFAULT '';
