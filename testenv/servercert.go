package testenv

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
)

// ServerCert writes a throwaway server certificate (valid for 127.0.0.1,
// ::1 and localhost, signed by a throwaway CA) and its key as PEM files in
// dir, for a server under test to serve HTTPS with, and returns their paths
// and a client configuration that trusts the CA.
func ServerCert(t testing.TB, dir string) (certFile, keyFile string, client *tls.Config) {
	t.Helper()
	b, err := newCertBundle("authority")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if err := os.WriteFile(certFile, b.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, b.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, clientTLSConfig(string(b.caPEM))
}
