package authority

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Modes of the data directory and what it holds: the database, the key and
// the logs are for the server's own user only.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// secureDataDir makes dir and every directory in it 0700 and every regular
// file in it 0600, also when they existed with looser modes (a directory
// made by hand with the usual 0755, a database written under umask 022).
// Symbolic links are left alone.
func secureDataDir(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("authority: make the data directory owner-only: %w", err)
		}
		want := fileMode
		switch {
		case d.IsDir():
			want = dirMode
		case !d.Type().IsRegular():
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // gone meanwhile (a -shm file SQLite removed)
		}
		if err != nil {
			return fmt.Errorf("authority: make the data directory owner-only: %w", err)
		}
		if info.Mode().Perm() == want {
			return nil
		}
		if err := os.Chmod(path, want); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("authority: make %s owner-only (%04o): %w", path, want, err)
		}
		return nil
	})
}

// createOwnerOnly creates path as an empty 0600 file when it does not exist,
// so that SQLite, which gives the -wal and -shm files the database file's
// mode, never makes any of them readable by others; an existing file is made
// 0600.
func createOwnerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("authority: create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("authority: create %s: %w", path, err)
	}
	if err := os.Chmod(path, fileMode); err != nil {
		return fmt.Errorf("authority: make %s owner-only (%04o): %w", path, fileMode, err)
	}
	for _, side := range []string{path + "-wal", path + "-shm"} {
		if err := os.Chmod(side, fileMode); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("authority: make %s owner-only (%04o): %w", side, fileMode, err)
		}
	}
	return nil
}
