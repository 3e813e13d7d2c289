-- Sign-in and registration read their LDAP server at every request. The server keeps the servers in memory and
-- checks one row to know they are current (as orgs_stamp does for the orgs, migration 0015).
CREATE TABLE ldap_servers_stamp (id INTEGER PRIMARY KEY CHECK (id = 1), stamp INTEGER NOT NULL);
INSERT INTO ldap_servers_stamp (id, stamp) VALUES (1, random());
CREATE TRIGGER ldap_servers_stamp_insert AFTER INSERT ON ldap_servers BEGIN UPDATE ldap_servers_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER ldap_servers_stamp_update AFTER UPDATE ON ldap_servers BEGIN UPDATE ldap_servers_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER ldap_servers_stamp_delete AFTER DELETE ON ldap_servers BEGIN UPDATE ldap_servers_stamp SET stamp = random() WHERE id = 1; END;
