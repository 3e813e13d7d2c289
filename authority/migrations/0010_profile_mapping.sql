-- The profile (0008) as a directory fills it (SPEC section 3, docs/rules.md section 3): each LDAP server's
-- optional profile attribute mapping; '' is not mapped.
ALTER TABLE ldap_servers ADD COLUMN title_attribute TEXT NOT NULL DEFAULT '';
ALTER TABLE ldap_servers ADD COLUMN department_attribute TEXT NOT NULL DEFAULT '';
ALTER TABLE ldap_servers ADD COLUMN division_attribute TEXT NOT NULL DEFAULT '';
ALTER TABLE ldap_servers ADD COLUMN employee_type_attribute TEXT NOT NULL DEFAULT '';
ALTER TABLE ldap_servers ADD COLUMN manager_attribute TEXT NOT NULL DEFAULT '';
ALTER TABLE ldap_servers ADD COLUMN city_attribute TEXT NOT NULL DEFAULT '';
ALTER TABLE ldap_servers ADD COLUMN state_attribute TEXT NOT NULL DEFAULT '';
ALTER TABLE ldap_servers ADD COLUMN country_attribute TEXT NOT NULL DEFAULT '';
-- Deleting a user sets its reports' manager_id to NULL (0008's ON DELETE SET NULL), which looks them up by
-- manager_id; 0009 rebuilt users without such an index.
CREATE INDEX IF NOT EXISTS users_manager ON users(manager_id);
