//go:build !unix

package dirsync

// fileLock is a no-op where flock is not available: runs are then exclusive
// within one process only.
type fileLock struct{}

func tryLockFile(path string) (*fileLock, bool, error) { return &fileLock{}, true, nil }

func (l *fileLock) unlock() {}
