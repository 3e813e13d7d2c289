-- Usernames and org names compare by Unicode simple case folding, the same in Go and in SQL (docs/rules.md
-- section 1); the columns' COLLATE NOCASE folds ASCII letters only. Each row keeps casefold.Key of its name in a
-- key column with a UNIQUE index, and every lookup by name compares keys. SQLite cannot fold, so the migration's
-- Go step (foldNameKeys in authority/casefold_migration.go) fills the keys of existing rows, and the services write
-- them from now on. NOCASE stays: it never refuses two names that the keys accept.
ALTER TABLE users ADD COLUMN username_key TEXT;
ALTER TABLE orgs ADD COLUMN name_key TEXT;
CREATE UNIQUE INDEX users_username_key ON users(username_key);
CREATE UNIQUE INDEX orgs_name_key ON orgs(name_key);
