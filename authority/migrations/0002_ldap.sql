-- ldapauth: a per-server list of sensitive attributes, withheld from
-- scripts, pages and logs on top of the built-in ones (JSON array).
ALTER TABLE ldap_servers ADD COLUMN sensitive_attributes TEXT NOT NULL DEFAULT '[]';
