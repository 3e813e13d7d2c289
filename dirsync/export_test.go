package dirsync

import "crypto/x509"

// SetPageHook makes s call fn after processing each page of a search (set it
// before starting a run).
func SetPageHook(s *Service, fn func(serverID int64, page int)) { s.pageHook = fn }

// SetMailRoots makes s trust the CAs in pem for STARTTLS.
func SetMailRoots(s *Service, pem string) {
	s.mailRoots = x509.NewCertPool()
	s.mailRoots.AppendCertsFromPEM([]byte(pem))
}
