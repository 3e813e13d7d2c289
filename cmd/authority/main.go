// Command authority is the backup authority server's LDAP integration module:
//
//	authority serve [--data DIR] [--listen ADDR] [--demo] [--tls-cert FILE --tls-key FILE] [--metrics-listen ADDR] [--trusted-proxies LIST]
//	authority sync [--data DIR] [--simulate] [--incremental]
//	authority admin reset-password USERNAME [--data DIR]
//
// serve runs the API, the console, the sync schedule and archive expiry;
// sync runs one directory sync on the same data directory and prints its
// summary; admin reset-password prints a new password for a local
// administrator (while the server is stopped or running).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/internal/clientaddr"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "authority:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

const usage = `usage:
  authority serve [--data DIR] [--listen ADDR] [--demo] [--tls-cert FILE --tls-key FILE]
                  [--metrics-listen ADDR] [--trusted-proxies LIST]
  authority sync  [--data DIR] [--simulate] [--override-valve] [--incremental]
  authority admin reset-password USERNAME [--data DIR]

serve   runs the server (API and console) until interrupted
sync    runs one directory sync now and prints the summary
admin   reset-password prints a new password for an administrator (SYSADMIN)`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return usageError{errors.New("name a command: serve, sync or admin")}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "sync":
		return syncOnce(ctx, args[1:], stdout, stderr)
	case "admin":
		return admin(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		fmt.Fprintln(stderr, usage)
		return usageError{fmt.Errorf("unknown command %q", args[0])}
	}
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", authority.DefaultDataDir, "data directory (database, key, logs)")
	listen := fs.String("listen", authority.DefaultListen, "address to listen on")
	demo := fs.Bool("demo", false, "also start an in-process test directory with sample users and an org Demo")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this PEM certificate (chain) file; needs --tls-key")
	tlsKey := fs.String("tls-key", "", "the PEM private key of --tls-cert")
	metricsListen := fs.String("metrics-listen", "", "also serve /metrics (no token), /healthz and /readyz on this address")
	trusted := fs.String("trusted-proxies", "", "comma-separated IPs and CIDRs of reverse proxies whose X-Forwarded-For names the client (default: none)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	proxies, err := clientaddr.ParseTrusted(*trusted)
	if err != nil {
		return usageError{err}
	}
	app, err := authority.Open(ctx, authority.Config{DataDir: *data, Listen: *listen, Demo: *demo,
		AdminPassword: os.Getenv(authority.AdminPasswordEnv), Stdout: stdout, LogStderr: true,
		TLSCert: *tlsCert, TLSKey: *tlsKey, MetricsListen: *metricsListen, TrustedProxies: proxies})
	if err != nil {
		return err
	}
	defer app.Close()
	return app.Serve(ctx, func(addr string) {
		fmt.Fprintf(stdout, "authority is listening on %s://%s/ (data in %s; log in %s/logs/authority.log)\n", app.Scheme(), addr, *data, *data)
		if m := app.MetricsAddr(); m != "" {
			fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", m)
		}
	})
}
