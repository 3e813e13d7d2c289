package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/testenv"
)

// Targets of sign-in and registration (issue 14).
const (
	targetSignInP99KeptOpen = 2.0  // login p99 within 2 × the kept-open search+bind p99
	targetSignInsPerSecond  = 1500 // sign-ins per second through POST /api/v1/login
	targetRegistrationsRate = 800  // registrations per second
)

// RegistrationResult is the desktop app's registration (POST /api/v1/login
// with a registration key, for people the database does not have yet)
// under concurrent clients.
type RegistrationResult struct {
	LoadResult
	People int `json:"people"` // people kept out of the database for it
}

// measureSignIn starts the server in a child process and puts the sign-in
// load on it, interleaved with its LDAP floors (raw: a new connection for
// each sign-in; kept open: each client keeps a service-bound connection
// for the search and one for the user binds); then the registration load
// and the attack scenario.
func measureSignIn(ctx context.Context, o options, dataDir, slapdAddr string, slapdPID int, pop *population, db *dbInfo, profArgs []string, logf func(string, ...any)) (*SignInResult, error) {
	c, err := startChild(ctx, append([]string{"-mode", "serve", "-data", dataDir}, profArgs...)...)
	if err != nil {
		return nil, err
	}
	addr := ""
	for line := range c.lines {
		if a, ok := strings.CutPrefix(line, "LISTENING "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		_, err := c.wait()
		return nil, fmt.Errorf("bench: the server did not start: %v", err)
	}
	// A fixed shuffle of the users active before and after the sync.
	names := slices.Clone(pop.signIn)
	rnd := rand.New(rand.NewPCG(uint64(o.Seed), 0x5151))
	rnd.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	per := time.Duration(o.SignInSeconds / 2 * float64(time.Second))
	serverPID := c.cmd.Process.Pid
	meters := []meter{{"server", func() time.Duration { return pidCPU(serverPID) }},
		{"slapd", func() time.Duration { return pidCPU(slapdPID) }}, {"client", selfCPU}}
	kept, closeKept := keptOpenSignIn(slapdAddr, o.Clients, db.searchAttrs)
	res, lerr := loadRounds(ctx, o.Clients, 2, per, names, meters, productSignIn(addr, o.Clients), rawSignIn(slapdAddr), kept)
	closeKept()
	var reg *RegistrationResult
	if lerr == nil && len(pop.unregistered) > 0 {
		reg, lerr = measureRegistration(ctx, addr, o.Clients, db.registrationKey, pop.unregistered, meters)
		if lerr == nil {
			logf("registration: %d people in %.1fs, %.0f/s, median %.1f ms, p99 %.1f ms (%d errors); CPU ms per registration: server %.2f, slapd %.2f",
				reg.Count, reg.Seconds, reg.PerSecond, reg.MedianMs, reg.P99Ms, reg.Errors, reg.CPUMsPerSignIn["server"], reg.CPUMsPerSignIn["slapd"])
			if reg.Errors > 0 {
				logf("WARNING: %d registrations failed, e.g. %s", reg.Errors, reg.FirstError)
			}
		}
	}
	var attack *AttackResult
	if lerr == nil && o.Attackers > 0 {
		attack, lerr = measureAttack(ctx, o, addr, serverPID, names, meters, per, logf)
	}
	srv, werr := c.wait()
	if lerr != nil {
		return nil, lerr
	}
	if werr != nil {
		return nil, werr
	}
	si := &SignInResult{Product: res[0], Raw: res[1], KeptOpen: res[2], Registration: reg, Attack: attack,
		ServerPeakRSS: srv.PeakRSS, ServerCPUSeconds: srv.CPUSeconds, SearchAttributes: db.searchAttrs}
	si.ratios()
	logf("sign-in: %.0f/s, median %.1f ms, p99 %.1f ms (%d errors); raw LDAP: %.0f/s, median %.1f ms, p99 %.1f ms (%d errors); kept-open LDAP: %.0f/s, median %.1f ms, p99 %.1f ms (%d errors)",
		si.Product.PerSecond, si.Product.MedianMs, si.Product.P99Ms, si.Product.Errors, si.Raw.PerSecond, si.Raw.MedianMs, si.Raw.P99Ms, si.Raw.Errors,
		si.KeptOpen.PerSecond, si.KeptOpen.MedianMs, si.KeptOpen.P99Ms, si.KeptOpen.Errors)
	if si.Product.Errors > 0 {
		logf("WARNING: %d sign-ins failed, e.g. %s", si.Product.Errors, si.Product.FirstError)
	}
	for kind, l := range map[string]LoadResult{"sign-in": si.Product, "raw LDAP sign-in": si.Raw, "kept-open LDAP sign-in": si.KeptOpen} {
		if l.Count == 0 {
			return nil, fmt.Errorf("bench: no %s succeeded: %s", kind, l.FirstError)
		}
	}
	return si, nil
}

// keptOpenSignIn returns the floor of a sign-in with connections kept
// open: with go-ldap directly, each client keeps one connection bound as
// the service account, on which it searches for the user (the product's
// filter and attrs), and one more on which it binds as each user. No dial,
// no service bind per sign-in. close closes every connection.
func keptOpenSignIn(addr string, clients int, attrs []string) (fn signInFunc, close func()) {
	type pair struct{ search, bind *ldap.Conn }
	conns := make([]pair, clients) // each client uses only its own pair; close runs after the load
	dial := func(service bool) (*ldap.Conn, error) {
		c, err := ldap.DialURL("ldap://" + addr)
		if err != nil {
			return nil, err
		}
		c.SetTimeout(time.Minute)
		if service {
			if err := c.Bind(testenv.SlapdServiceDN, testenv.SlapdServicePassword); err != nil {
				c.Close()
				return nil, fmt.Errorf("service bind: %w", err)
			}
		}
		return c, nil
	}
	fn = func(ctx context.Context, client int, username string) error {
		p := &conns[client]
		var err error
		if p.search == nil {
			if p.search, err = dial(true); err != nil {
				return err
			}
		}
		if p.bind == nil {
			if p.bind, err = dial(false); err != nil {
				return err
			}
		}
		res, err := p.search.Search(ldap.NewSearchRequest(testenv.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			strings.Replace(searchFilter, "%u", ldap.EscapeFilter(username), 1), attrs, nil))
		if err != nil {
			p.search.Close()
			p.search = nil
			return fmt.Errorf("search: %w", err)
		}
		if len(res.Entries) != 1 {
			return fmt.Errorf("search found %d entries", len(res.Entries))
		}
		if err := p.bind.Bind(res.Entries[0].DN, testenv.GeneratedPassword(username)); err != nil {
			if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
				p.bind.Close()
				p.bind = nil
			}
			return fmt.Errorf("bind as the user: %w", err)
		}
		return nil
	}
	close = func() {
		for _, p := range conns {
			for _, c := range []*ldap.Conn{p.search, p.bind} {
				if c != nil {
					c.Close()
				}
			}
		}
		clear(conns)
	}
	return fn, close
}

// measureRegistration registers every person of names (not in the database)
// through POST /api/v1/login with the registration key and a device, from
// clients concurrent clients, each person once.
func measureRegistration(ctx context.Context, addr string, clients int, key string, names []string, meters []meter) (*RegistrationResult, error) {
	login := newLoginClient(addr, clients)
	register := func(ctx context.Context, _ int, username string) error {
		raw, err := login.post(ctx, map[string]string{"username": username, "password": testenv.GeneratedPassword(username),
			"registrationKey": key, "deviceGuid": "reg-" + username, "deviceName": username + "'s new laptop"})
		if err != nil {
			return err
		}
		var out struct {
			User struct {
				ID int64 `json:"id"`
			} `json:"user"`
			Device *struct {
				GUID string `json:"guid"`
			} `json:"device"`
		}
		if err := json.Unmarshal(raw, &out); err != nil || out.User.ID == 0 || out.Device == nil {
			return fmt.Errorf("not a registration: %s", strings.TrimSpace(string(raw)))
		}
		return nil
	}
	before := make([]time.Duration, len(meters))
	for i, m := range meters {
		before[i] = m.read()
	}
	var next atomic.Int64
	t0 := time.Now()
	lat, errs, first, err := runLoad(ctx, clients, 0, len(names), names, &next, register)
	if err != nil {
		return nil, err
	}
	res := &RegistrationResult{LoadResult: summarize(clients, lat, errs, first, time.Since(t0)), People: len(names)}
	res.CPUMsPerSignIn = map[string]float64{}
	for i, m := range meters {
		if len(lat) > 0 {
			res.CPUMsPerSignIn[m.name] = float64((m.read() - before[i]).Microseconds()) / 1000 / float64(len(lat))
		}
	}
	return res, nil
}
