-- An incremental sync reads only the users its changes name: by username key (indexed since 0006) and by the
-- stable id of the entry they matched last, compared in lower case (docs/rules.md section 6.1).
CREATE INDEX users_ldap_uid ON users(lower(ldap_uid)) WHERE ldap_uid <> '';
-- Every run reads the administrators (the lockout guard) once: by role, not by a scan of every user's roles.
CREATE INDEX user_roles_role ON user_roles(role);
