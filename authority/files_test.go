//go:build unix

package authority_test

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/authority-server/authority/authority"
)

// checkOwnerOnly fails unless dir is 0700 and every directory in it 0700 and
// every file 0600, and the files the server keeps are all there.
func checkOwnerOnly(t *testing.T, dir string) {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		seen[rel] = true
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s is %04o, want %04o", rel, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{".", authority.DBFile, authority.DBFile + "-wal", authority.DBFile + "-shm", "secret.key", "logs", filepath.Join("logs", "authority.log")} {
		if !seen[f] {
			t.Errorf("%s is missing from the data directory (have %v)", f, seen)
		}
	}
}

// TestDataDirectoryPermissions: the data directory is 0700 and its files
// (the database and its -wal/-shm, the key, the logs) 0600, whether the
// directory is new, existed empty with the usual 0755, or existed with a
// database, key and log of looser modes.
func TestDataDirectoryPermissions(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	ctx := context.Background()
	open := func(dir string) {
		t.Helper()
		app, err := authority.Open(ctx, authority.Config{DataDir: dir, AdminPassword: "admin-pw-123", Stdout: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { app.Close() })
		if _, err := app.DB.Exec(`UPDATE health_probe SET at = 'x'`); err != nil { // a write: the WAL exists
			t.Fatal(err)
		}
		checkOwnerOnly(t, dir)
	}

	t.Run("new", func(t *testing.T) { open(filepath.Join(t.TempDir(), "data")) })

	t.Run("existing empty 0755", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		open(dir)
	})

	t.Run("existing 0644 database", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		app, err := authority.Open(ctx, authority.Config{DataDir: dir, AdminPassword: "admin-pw-123", Stdout: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		app.Close()
		loosen := map[string]fs.FileMode{".": 0o755, "logs": 0o755}
		for _, f := range []string{authority.DBFile, authority.DBFile + "-wal", authority.DBFile + "-shm", "secret.key", filepath.Join("logs", "authority.log")} {
			loosen[f] = 0o644
		}
		for f, mode := range loosen {
			if err := os.Chmod(filepath.Join(dir, f), mode); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
		open(dir)
	})
}
