package ldapauth

import (
	"errors"
	"testing"

	"github.com/authority-server/authority/testenv"
)

// idle returns the pool's idle connections of server id.
func idle(p *Pool, id int64) (search, bind []*Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.servers[id]; s != nil {
		for _, ic := range s.search {
			search = append(search, ic.c)
		}
		for _, ic := range s.binder {
			bind = append(bind, ic.c)
		}
	}
	return search, bind
}

// Sign-ins reuse the pool's connections: the search on a service-bound
// one, the person's bind on another that is only ever used for binds; a
// wrong password leaves it usable; new settings make new connections; a
// directory restarted under idle connections is reached on fresh ones.
func TestPoolKeepsConnectionsOpen(t *testing.T) {
	people := testenv.GeneratePeople(20, 3)
	s := testenv.StartSlapd(t, people)
	srv := slapdServer(s)
	srv.ID = 7
	ctx := testCtx(t)
	p := NewPool()
	defer p.Close()
	a, b := people[0].UID, people[1].UID

	if _, err := p.Authenticate(ctx, srv, a, testenv.GeneratedPassword(a)); err != nil {
		t.Fatalf("first sign-in: %v", err)
	}
	search, bind := idle(p, srv.ID)
	if len(search) != 1 || len(bind) != 1 || search[0] == bind[0] {
		t.Fatalf("after one sign-in: %d search, %d bind connections", len(search), len(bind))
	}
	if _, err := p.Authenticate(ctx, srv, b, "wrong"); !errors.Is(err, ErrCredentialsRefused) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := p.Authenticate(ctx, srv, b, testenv.GeneratedPassword(b)); err != nil {
		t.Fatalf("right password after a wrong one: %v", err)
	}
	search2, bind2 := idle(p, srv.ID)
	if len(search2) != 1 || search2[0] != search[0] || len(bind2) != 1 || bind2[0] != bind[0] {
		t.Fatalf("the connections were not reused: %v %v / %v %v", search, bind, search2, bind2)
	}
	// The search connection is still the service account's: it finds people
	// (a person's identity could not, on this directory, search others).
	if es, err := search2[0].FindUsers(ctx, a); err != nil || len(es) != 1 {
		t.Fatalf("search connection after binds: %v %v", es, err)
	}

	// Changed settings (a new timeout): the old connections are closed.
	changed := srv
	changed.TimeoutSeconds = 9
	if _, err := p.Authenticate(ctx, changed, a, testenv.GeneratedPassword(a)); err != nil {
		t.Fatalf("after a settings change: %v", err)
	}
	search3, _ := idle(p, srv.ID)
	if len(search3) != 1 || search3[0] == search[0] || !search[0].l.IsClosing() {
		t.Fatalf("old connections kept after a settings change")
	}

	// The directory restarts: the idle connections are dead; sign-in works.
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Authenticate(ctx, changed, a, testenv.GeneratedPassword(a)); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	if _, err := p.Authenticate(ctx, changed, b, "wrong"); !errors.Is(err, ErrCredentialsRefused) {
		t.Fatalf("wrong password after a restart: %v", err)
	}
	p.Forget(srv.ID)
	if s2, b2 := idle(p, srv.ID); len(s2)+len(b2) != 0 {
		t.Fatalf("Forget kept connections")
	}
}
