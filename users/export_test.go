package users

// ArchiveSQL exposes the lifecycle's archive updates to the query-plan test.
var ArchiveSQL = []string{sqlArchivesToCold, archivesToColdSQL(placeholders(3)), sqlArchivesExpire, sqlArchivesRestore}
