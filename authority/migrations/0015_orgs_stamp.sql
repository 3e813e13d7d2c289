-- Sign-in, registration and every lifecycle change read an org with what it inherits. The server keeps the org
-- tree in memory and checks one row to know it is current: every write to orgs or to their LDAP servers gives
-- the stamp a new random value (random, not a counter: a transaction rolled back leaves no value that a later
-- commit could reuse for other contents).
CREATE TABLE orgs_stamp (id INTEGER PRIMARY KEY CHECK (id = 1), stamp INTEGER NOT NULL);
INSERT INTO orgs_stamp (id, stamp) VALUES (1, random());
CREATE TRIGGER orgs_stamp_insert AFTER INSERT ON orgs BEGIN UPDATE orgs_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER orgs_stamp_update AFTER UPDATE ON orgs BEGIN UPDATE orgs_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER orgs_stamp_delete AFTER DELETE ON orgs BEGIN UPDATE orgs_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER org_servers_stamp_insert AFTER INSERT ON org_ldap_servers BEGIN UPDATE orgs_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER org_servers_stamp_update AFTER UPDATE ON org_ldap_servers BEGIN UPDATE orgs_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER org_servers_stamp_delete AFTER DELETE ON org_ldap_servers BEGIN UPDATE orgs_stamp SET stamp = random() WHERE id = 1; END;
