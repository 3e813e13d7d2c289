package main

import (
	"context"
	"errors"
	"io"
)

// syncOnce runs one directory sync. (The dirsync engineer fills this in.)
func syncOnce(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("sync is not available yet")
}
