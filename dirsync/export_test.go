package dirsync

import "crypto/x509"

// SetPageHook makes s call fn when a page of a search is received
// (HookReceived) and when it has been processed (HookProcessed). Set it
// before starting a run.
func SetPageHook(s *Service, fn func(stage string, serverID int64, page int)) { s.pageHook = fn }

// SetMailRoots makes s trust the CAs in pem for STARTTLS.
func SetMailRoots(s *Service, pem string) {
	s.mailRoots = x509.NewCertPool()
	s.mailRoots.AppendCertsFromPEM([]byte(pem))
}
