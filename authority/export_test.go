package authority

// MigrateUpTo builds the database of an earlier version for the external tests.
var MigrateUpTo = migrateUpTo
