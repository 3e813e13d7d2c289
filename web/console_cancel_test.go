package web_test

import (
	"context"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/orgs"
)

// blackHole is a TCP listener that accepts connections and never answers:
// a directory that hangs.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestConsoleCancelSync: a sync waiting on a directory that hangs shows a
// Cancel button on its page; the button stops the run at once and the run
// is recorded as cancelled.
func TestConsoleCancelSync(t *testing.T) {
	e := startConsole(t)
	ctx := context.Background()
	p := func(s string) *string { return &s }
	timeout := 60
	srv, err := e.app.LDAP.Create(ctx, ldapauth.ServerInput{Name: p("hangs"), URL: p("ldap://" + blackHole(t) + "/dc=example,dc=com"),
		BindDN: p("cn=svc,dc=example,dc=com"), BindPassword: p("svc-pw"), SearchFilter: p("(uid=%u)"), TimeoutSeconds: &timeout})
	if err != nil {
		t.Fatal(err)
	}
	method := orgs.AuthLDAP
	if _, err := e.app.Orgs.Create(ctx, orgs.Input{Name: p("Campus"), AuthMethod: &method, LDAPServerIDs: &[]int64{srv.ID}}); err != nil {
		t.Fatal(err)
	}
	e.signIn()
	e.follow("/sync/runs")
	if code, loc, _ := e.post("/sync/runs", nil, false); code != http.StatusSeeOther || loc != "/settings/ldap" {
		t.Fatalf("start: %d %q", code, loc)
	}
	id := e.app.Sync.Running()
	if id == 0 {
		t.Fatal("no run going on")
	}
	page := "/sync/runs/" + strconv.FormatInt(id, 10)
	for _, path := range []string{"/sync/runs", page} {
		body := e.follow(path)
		if !regexp.MustCompile(`<form method="post" action="`+page+`/cancel"[^>]*>`).MatchString(body) || !strings.Contains(body, `id="cancel-sync"`) {
			t.Fatalf("%s has no Cancel button for run %d:\n%s", path, id, body)
		}
	}
	t0 := time.Now()
	code, loc, _ := e.post(page+"/cancel", nil, false)
	if code != http.StatusSeeOther || loc != page {
		t.Fatalf("cancel: %d %q", code, loc)
	}
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("the cancel took %v", took)
	}
	body := e.follow(page)
	if !strings.Contains(body, "Run "+strconv.FormatInt(id, 10)+" was cancelled.") || !strings.Contains(body, "badge-cancelled") || strings.Contains(body, `id="cancel-sync"`) {
		t.Fatalf("the run page after the cancel:\n%s", body)
	}
	run, err := e.app.Sync.Get(ctx, id, dirsync.ListOptions{})
	if err != nil || run.Status != dirsync.StatusCancelled || !strings.Contains(run.Message, "cancelled by 1/admin") {
		t.Fatalf("run: %+v %v", run, err)
	}
}
