package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

// benchAdminPassword is the administrator's password in the bench database.
const benchAdminPassword = "bench-admin-password"

// registerBatch is how many users one registration transaction creates.
const registerBatch = 10000

// startDirectory loads A' into a fresh slapd under dir (with the syncprov
// overlay, testenv's default, so that incremental runs can use syncrepl).
func startDirectory(dir string, people []testenv.Person) (*testenv.Slapd, func(), error) {
	sdir := filepath.Join(dir, "slapd")
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("bench: slapd dir: %w", err)
	}
	// The service account reads the syncrepl baseline of a full run and the
	// changes of an incremental run unpaged: no size limit for it.
	s, stop, err := testenv.StartSlapdServer(sdir, people, testenv.WithUnlimitedServiceAccount())
	if err != nil {
		return nil, nil, fmt.Errorf("bench: start slapd: %w", err)
	}
	return s, stop, nil
}

// dbInfo is what the bench needs to know about the database it built.
type dbInfo struct {
	dataDir  string
	serverID int64
	orgs     map[string]int64
	// registrationKey is the root org's (Default, authentication ldap):
	// the registration load registers people with it.
	registrationKey string
	// searchAttrs are the attributes the product's searches ask for on the
	// bench's server (ldapauth.Server.SearchAttributes).
	searchAttrs []string
}

// buildDatabase creates the authority data directory: an LDAP server record
// pointing at slapd with the example scripts, the org tree Default → one org
// per OU (authentication method ldap, inherited from Default), and every
// person of A registered as a user in big transactions through the users
// package (each with one device and its archive; the people disabled in A
// deactivated, as an earlier sync would have left them).
func buildDatabase(ctx context.Context, dataDir string, slapd *testenv.Slapd, pop *population, pageSize int) (*dbInfo, error) {
	app, err := authority.Open(ctx, authority.Config{DataDir: dataDir, AdminPassword: benchAdminPassword, Stdout: io.Discard})
	if err != nil {
		return nil, fmt.Errorf("bench: open the authority database: %w", err)
	}
	defer app.Close()
	info := &dbInfo{dataDir: dataDir, orgs: map[string]int64{}}

	str := func(s string) *string { return &s }
	timeout := 120
	srv, err := app.LDAP.Create(ctx, ldapauth.ServerInput{
		Name: str("bench slapd"), URL: str(slapd.URL), BindDN: str(slapd.BindDN), BindPassword: str(slapd.BindPassword),
		SearchFilter: str(searchFilter), ActiveScript: str(activeScript), OrgNameScript: str(orgNameScript),
		RoleNameScript: str(roleNameScript), PageSize: &pageSize, TimeoutSeconds: &timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("bench: create the LDAP server record: %w", err)
	}
	info.serverID = srv.ID
	// The very list the product asks for, from the stored record.
	stored, err := app.LDAP.Get(ctx, srv.ID)
	if err != nil {
		return nil, fmt.Errorf("bench: read the LDAP server record: %w", err)
	}
	info.searchAttrs = stored.SearchAttributes()
	root, err := app.Orgs.EnsureRoot(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: root org: %w", err)
	}
	info.registrationKey = root.RegistrationKey
	if _, err := app.Orgs.Update(ctx, root.ID, orgs.Input{AuthMethod: str(orgs.AuthLDAP), LDAPServerIDs: &[]int64{srv.ID}}); err != nil {
		return nil, fmt.Errorf("bench: set org %s to LDAP: %w", root.Name, err)
	}
	info.orgs[root.Name] = root.ID
	var ous []string
	for _, p := range pop.before {
		if !slices.Contains(ous, p.OU) {
			ous = append(ous, p.OU)
		}
	}
	slices.Sort(ous)
	for _, ou := range ous {
		o, err := app.Orgs.Create(ctx, orgs.Input{Name: str(ou), ParentID: &root.ID})
		if err != nil {
			return nil, fmt.Errorf("bench: create org %s: %w", ou, err)
		}
		info.orgs[o.Name] = o.ID
	}

	// Register A in big transactions: first the people disabled in A, who
	// are deactivated as an earlier sync would have left them, then the
	// others. (In this order each deactivation's archive update has few
	// archives to look at; see docs/benchmarks.md on DeactivateTx.)
	sid := srv.ID
	ordered := make([]testenv.Person, 0, len(pop.before))
	for _, active := range []bool{false, true} {
		for _, p := range pop.before {
			if lu := strings.ToLower(p.UID); !pop.notInDB[lu] && pop.derivedA[lu].active == active {
				ordered = append(ordered, p)
			}
		}
	}
	for start := 0; start < len(ordered); start += registerBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		chunk := ordered[start:min(start+registerBatch, len(ordered))]
		err := app.Users.InTx(ctx, func(tx *sqlx.Tx) error {
			for _, p := range chunk {
				d := pop.derivedA[strings.ToLower(p.UID)]
				orgID, ok := info.orgs[d.org]
				if !ok {
					return fmt.Errorf("bench: the org name script gave %q for %s, which is not an org", d.org, p.UID)
				}
				email := ""
				if len(p.Mail) > 0 {
					email = p.Mail[0]
				}
				id, err := app.Users.CreateTx(ctx, tx, users.NewUser{
					Username: p.UID, Email: email, FirstName: p.GivenName, LastName: p.SN, OrgID: orgID,
					Roles: d.roles, LDAPServerID: &sid, LDAPDN: p.DN(testenv.BaseDN), LDAPUID: personUUID(p.UID),
				})
				if err != nil {
					return fmt.Errorf("bench: register %s: %w", p.UID, err)
				}
				if _, err := app.Users.RegisterDeviceTx(ctx, tx, id, "dev-"+p.UID, p.UID+"'s laptop"); err != nil {
					return fmt.Errorf("bench: device of %s: %w", p.UID, err)
				}
				if !d.active {
					if _, err := app.Users.DeactivateTx(ctx, tx, id, users.ReasonDirsync); err != nil {
						return fmt.Errorf("bench: deactivate %s: %w", p.UID, err)
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// A checkpoint now, so that the sync does not pay for the registration's WAL.
	if _, err := app.DB.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return nil, fmt.Errorf("bench: checkpoint: %w", err)
	}
	return info, nil
}

// copyFile copies src to dst (the database snapshot every repetition starts from).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("bench: copy %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("bench: copy to %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("bench: copy %s to %s: %w", src, dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("bench: copy to %s: %w", dst, err)
	}
	return nil
}
