package dirsync

// Service runs and records directory syncs.
// (Placeholder: the dirsync engineer replaces this file.)
type Service struct{}
