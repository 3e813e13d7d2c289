package authority_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/testenv"
)

// served is an app running Serve in the background.
type served struct {
	app  *authority.App
	base string // scheme://addr
	stop context.CancelFunc
	done chan error
}

// serve opens an app with cfg (a temp data directory, random ports) and runs
// Serve until the test stops it (or ends).
func serve(t *testing.T, cfg authority.Config) *served {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Listen, cfg.AdminPassword, cfg.Stdout = "127.0.0.1:0", "admin-password", io.Discard
	app, err := authority.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{app: app, stop: cancel, done: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() { s.done <- app.Serve(ctx, func(addr string) { ready <- addr }) }()
	select {
	case addr := <-ready:
		s.base = app.Scheme() + "://" + addr
	case err := <-s.done:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		<-s.done
		app.Close()
	})
	return s
}

// token signs the administrator in through client.
func token(t *testing.T, client *http.Client, base string) string {
	t.Helper()
	resp, err := client.Post(base+"/api/v1/auth/token", "application/json", strings.NewReader(`{"username":"admin","password":"admin-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return out.Token
}

func get(t *testing.T, client *http.Client, url, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestServeTLS: with --tls-cert and --tls-key the server answers HTTPS (and
// not plain HTTP), with HSTS; the console's session cookie is Secure,
// HttpOnly and SameSite. /metrics wants an administrator's token there and
// none on the --metrics-listen address, which also answers /healthz and
// /readyz and nothing of the API.
func TestServeTLS(t *testing.T) {
	certFile, keyFile, clientTLS := testenv.ServerCert(t, t.TempDir())
	s := serve(t, authority.Config{TLSCert: certFile, TLSKey: keyFile, MetricsListen: "127.0.0.1:0"})
	if !strings.HasPrefix(s.base, "https://") {
		t.Fatalf("base %s", s.base)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS}, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, _ := get(t, client, s.base+"/healthz", "")
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("healthz over HTTPS: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Errorf("no HSTS header: %q", hsts)
	}
	if resp, err := http.Get("http://" + strings.TrimPrefix(s.base, "https://") + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP answered 200 on the HTTPS port")
		}
	}

	// The console's sign-in over HTTPS.
	resp, body := get(t, client, s.base+"/login", "")
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("login page: %d", resp.StatusCode)
	}
	form := url.Values{"username": {"admin"}, "password": {"admin-password"}, "csrf_token": {m[1]}}
	req, _ := http.NewRequest("POST", s.base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.base)
	req.Header.Set("Referer", s.base+"/login")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "authority_session" {
			session = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("console sign-in over HTTPS: %d, cookies %v", resp.StatusCode, resp.Header["Set-Cookie"])
	}
	if !session.Secure || !session.HttpOnly || (session.SameSite != http.SameSiteStrictMode && session.SameSite != http.SameSiteLaxMode) {
		t.Errorf("session cookie: Secure %t HttpOnly %t SameSite %v", session.Secure, session.HttpOnly, session.SameSite)
	}

	tok := token(t, client, s.base)
	if resp, _ := get(t, client, s.base+"/metrics", ""); resp.StatusCode != 401 {
		t.Errorf("metrics without a token on the main listener: %d", resp.StatusCode)
	}
	if resp, body := get(t, client, s.base+"/metrics", tok); resp.StatusCode != 200 || !strings.Contains(body, "authority_users{status=\"active\"} 1") {
		t.Errorf("metrics with a token: %d", resp.StatusCode)
	}
	ops := "http://" + s.app.MetricsAddr()
	if resp, body := get(t, http.DefaultClient, ops+"/metrics", ""); resp.StatusCode != 200 || !strings.Contains(body, "authority_signins_total") {
		t.Errorf("metrics listener: %d", resp.StatusCode)
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/api/v1/orgs": 404, "/login": 404} {
		if resp, _ := get(t, http.DefaultClient, ops+path, tok); resp.StatusCode != want {
			t.Errorf("metrics listener %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestServeWithoutTLSCookies: over plain HTTP the console's cookie is still
// HttpOnly and SameSite, and there is no HSTS.
func TestServeWithoutTLSCookies(t *testing.T) {
	s := serve(t, authority.Config{})
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, body := get(t, client, s.base+"/login", "")
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Errorf("HSTS over plain HTTP")
	}
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token")
	}
	resp, err := client.PostForm(s.base+"/login", url.Values{"username": {"admin"}, "password": {"admin-password"}, "csrf_token": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "authority_session" {
			if c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Errorf("session cookie over HTTP: Secure %t HttpOnly %t SameSite %v", c.Secure, c.HttpOnly, c.SameSite)
			}
			return
		}
	}
	t.Fatalf("no session cookie: %d %v", resp.StatusCode, resp.Header["Set-Cookie"])
}

// TestServeBadTLSFiles: a missing key, or files that are no certificate,
// stop the start with an error that names them.
func TestServeBadTLSFiles(t *testing.T) {
	dir := t.TempDir()
	cert, _, _ := testenv.ServerCert(t, dir)
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a key"), 0o600)
	for _, c := range []authority.Config{{TLSCert: cert}, {TLSCert: cert, TLSKey: junk}} {
		c.DataDir, c.Stdout = t.TempDir(), io.Discard
		app, err := authority.Open(context.Background(), c)
		if err == nil {
			app.Close()
			t.Errorf("%+v: opened", c)
			continue
		}
		if !strings.Contains(err.Error(), "tls") {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// hangingDirectory is a TCP listener that accepts connections and never
// answers.
func hangingDirectory(t *testing.T) string {
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

// TestServeStopsDuringSync: the server stops within 10 s of being told to
// (SIGTERM cancels Serve's context) while a sync waits on a directory that
// hangs and a request waits on it too: the run is recorded as cancelled
// (the server shutting down), its DIRSYNC lines say so, and nobody was
// deactivated.
func TestServeStopsDuringSync(t *testing.T) {
	ctx := context.Background()
	s := serve(t, authority.Config{})
	app := s.app
	p := func(v string) *string { return &v }
	timeout := 60
	srv, err := app.LDAP.Create(ctx, ldapauth.ServerInput{Name: p("hangs"), URL: p("ldap://" + hangingDirectory(t) + "/dc=example,dc=com"),
		BindDN: p("cn=svc,dc=example,dc=com"), BindPassword: p("svc-pw"), SearchFilter: p("(uid=%u)"), TimeoutSeconds: &timeout})
	if err != nil {
		t.Fatal(err)
	}
	method := orgs.AuthLDAP
	_, err = app.Orgs.Create(ctx, orgs.Input{Name: p("Campus"), AuthMethod: &method, LDAPServerIDs: &[]int64{srv.ID}})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{}
	tok := token(t, client, s.base)
	post := func(path, body string) (*http.Response, error) {
		req, _ := http.NewRequest("POST", s.base+path, bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+tok)
		return client.Do(req)
	}
	resp, err := post("/api/v1/dirsync/runs", `{}`)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("start a sync: %v %v", resp, err)
	}
	var started struct{ ID int64 }
	json.NewDecoder(resp.Body).Decode(&started)
	resp.Body.Close()
	// A request waiting on the same directory.
	go func() {
		if resp, err := post(fmt.Sprintf("/api/v1/ldap/servers/%d/test", srv.ID), ``); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(500 * time.Millisecond)
	if app.Sync.Running() != started.ID {
		t.Fatalf("run %d is not running", started.ID)
	}

	t0 := time.Now()
	s.stop()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not stop within 15 s")
	}
	if took := time.Since(t0); took > authority.ShutdownTimeout {
		t.Errorf("the server took %v to stop, more than %v", took, authority.ShutdownTimeout)
	}
	run, err := app.Sync.Get(ctx, started.ID, dirsync.ListOptions{})
	if err != nil || run.Status != dirsync.StatusCancelled || !strings.Contains(run.Message, "the server is shutting down") {
		t.Fatalf("the run after the stop: %+v %v", run, err)
	}
	log := readFile(t, filepath.Join(app.Config.DataDir, "logs", "authority.log"))
	if !strings.Contains(log, fmt.Sprintf("DIRSYNC:: Cancelled run:%d", started.ID)) || !strings.Contains(log, fmt.Sprintf("DIRSYNC:: Finished run:%d status:cancelled", started.ID)) {
		t.Errorf("log:\n%s", log)
	}
}
