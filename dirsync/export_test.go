package dirsync

// SetPageHook makes s call fn after processing each page of a search (set it
// before starting a run).
func SetPageHook(s *Service, fn func(serverID int64, page int)) { s.pageHook = fn }
