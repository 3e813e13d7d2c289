-- Each LDAP server's stable id attribute and nested groups (docs/rules.md section 3): where the stable id comes
-- from (auto: objectGUID, entryUUID, nsUniqueId, ipaUniqueID, the first an entry has) and whether scripts get
-- entry.memberOfAll.
ALTER TABLE ldap_servers ADD COLUMN stable_id_attribute TEXT NOT NULL DEFAULT 'auto';
ALTER TABLE ldap_servers ADD COLUMN nested_groups INTEGER NOT NULL DEFAULT 0;
