-- Registration and every directory sync check role names against the roles and the Role Mapping list. The server
-- keeps the roles in memory and checks one row to know they are current (as orgs_stamp does, migration 0015).
CREATE TABLE roles_stamp (id INTEGER PRIMARY KEY CHECK (id = 1), stamp INTEGER NOT NULL);
INSERT INTO roles_stamp (id, stamp) VALUES (1, random());
CREATE TRIGGER roles_stamp_insert AFTER INSERT ON roles BEGIN UPDATE roles_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER roles_stamp_update AFTER UPDATE ON roles BEGIN UPDATE roles_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER roles_stamp_delete AFTER DELETE ON roles BEGIN UPDATE roles_stamp SET stamp = random() WHERE id = 1; END;
