package users

// ArchiveSQL exposes the lifecycle's archive updates to the query-plan test.
var ArchiveSQL = []string{sqlArchivesToCold, sqlArchivesExpire, sqlArchivesRestore}
