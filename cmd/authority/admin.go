package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/authority-server/authority/authority"
)

// admin runs the administration subcommands:
//
//	authority admin reset-password USERNAME [--data DIR]
func admin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "reset-password" {
		fmt.Fprintln(stderr, usage)
		return usageError{errors.New("admin: name a subcommand: reset-password USERNAME")}
	}
	fs := flag.NewFlagSet("admin reset-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", authority.DefaultDataDir, "data directory (database, key, logs)")
	// The username may come before or after the flags.
	rest := args[1:]
	var username string
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		username, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return usageError{err}
	}
	if username == "" && fs.NArg() == 1 {
		username = fs.Arg(0)
	} else if fs.NArg() > 0 || username == "" {
		return usageError{errors.New("admin reset-password: give exactly one USERNAME")}
	}
	app, err := authority.Open(ctx, authority.Config{DataDir: *data, Stdout: io.Discard})
	if err != nil {
		return err
	}
	defer app.Close()
	pw, err := app.ResetAdminPassword(ctx, username)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "New password of %s (shown only this once; every session and API token of %s was signed out):\n\n    %s\n\n", username, username, pw)
	return nil
}
