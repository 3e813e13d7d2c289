package testenv

import (
	"io"
	"os"
	"testing"

	"github.com/authority-server/authority/internal/demodir"
)

// BaseDN is the base DN of every directory testenv starts.
const BaseDN = demodir.BaseDN

// Service account of the glauth directory (it has the search capability).
const (
	GlauthServiceName     = demodir.ServiceName
	GlauthServiceGroup    = demodir.ServiceGroup
	GlauthServiceDN       = demodir.ServiceDN
	GlauthServicePassword = demodir.ServicePassword
)

// GlauthUser is one user of the in-process glauth directory (see
// [demodir.User]).
type GlauthUser = demodir.User

// Glauth is a running in-process glauth server (see [demodir.Directory]).
type Glauth = demodir.Directory

// DemoPassword is the password of every user of [DemoDirectory].
const DemoPassword = demodir.Password

// DemoDirectory returns the sample people and groups of `authority serve
// --demo` (see [demodir.People]), for small tests. Every user's password is
// [DemoPassword]. Pass the result to [StartGlauth].
func DemoDirectory() ([]GlauthUser, []string) {
	return demodir.People()
}

// StartGlauth starts an in-process glauth server on a random loopback port
// with users and groups (groups named by users are created automatically;
// list extra ones, e.g. empty groups, in groups). It is stopped on t.Cleanup.
func StartGlauth(t testing.TB, users []GlauthUser, groups ...string) *Glauth {
	t.Helper()
	g, stop, err := StartGlauthServer(users, groups)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(stop)
	return g
}

// StartGlauthServer is StartGlauth without testing.TB. Call stop to shut the
// server down. glauth's log goes to stderr when TESTENV_DEBUG is set.
func StartGlauthServer(users []GlauthUser, groups []string) (*Glauth, func(), error) {
	var debugLog io.Writer
	if os.Getenv("TESTENV_DEBUG") != "" {
		debugLog = os.Stderr
	}
	g, err := demodir.Start(users, groups, debugLog)
	if err != nil {
		return nil, nil, err
	}
	return g, g.Stop, nil
}
