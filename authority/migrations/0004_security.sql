-- Security (docs/rules.md section 10). SYSADMIN rules the server: no directory, script or org default may give it.
-- Take it off the Role Mapping list and out of every org's default roles, where an earlier version let it be.
UPDATE roles SET in_mapping = 0 WHERE name = 'SYSADMIN';
UPDATE orgs SET default_roles = (
    SELECT coalesce(json_group_array(value), '[]') FROM json_each(orgs.default_roles) WHERE upper(value) <> 'SYSADMIN'
) WHERE upper(default_roles) LIKE '%"SYSADMIN"%';

-- Blocking, deactivating, a password change or losing SYSADMIN revokes a user's tokens at once.
CREATE INDEX IF NOT EXISTS api_tokens_user ON api_tokens(user_id);
