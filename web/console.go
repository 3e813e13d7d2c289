package web

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/csrf"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/throttle"
	"github.com/authority-server/authority/users"
	"github.com/authority-server/authority/users/roles"
)

// The console: server-rendered pages for administrators (docs/rules.md section 7).
//
// Every page is an html/template (web/templates) that escapes every value it
// shows; CSS and the little JavaScript there is live in web/static, because
// the Content-Security-Policy allows no inline script or style. Forms post to
// console handlers that call the services directly, and every form carries a
// gorilla/csrf token. A console session is an API token (users.IssueToken)
// kept in an HttpOnly, SameSite=Strict cookie.

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

const (
	sessionCookie = "authority_session"
	flashCookie   = "authority_flash"
	csrfCookie    = "authority_csrf"
	csrfField     = "csrf_token"
	csrfHeader    = "X-CSRF-Token"
)

// csrfKey is the key that authenticates the CSRF cookie: random per process,
// so a restart only makes open forms ask to be sent again.
var csrfKey = sync.OnceValue(func() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("web: no randomness for the CSRF key: " + err.Error())
	}
	return k
})

// consoleRoutes registers the administrator's pages.
func (s *Server) consoleRoutes(r chi.Router) {
	static, _ := fs.Sub(staticFiles, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	r.Handle("/static/*", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No directory listings, and a name the files cannot have
		// ("%c0%ae", "..") is not found rather than a file system error.
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if strings.HasSuffix(r.URL.Path, "/") || !utf8.ValidString(name) || !fs.ValidPath(name) {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	}))
	protect := csrf.Protect(csrfKey(),
		csrf.CookieName(csrfCookie),
		csrf.FieldName(csrfField),
		csrf.RequestHeader(csrfHeader),
		csrf.Path("/"),
		csrf.HttpOnly(true),
		csrf.Secure(s.SecureCookies),
		csrf.SameSite(csrf.SameSiteStrictMode),
		csrf.MaxAge(int(users.TokenTTL.Seconds())),
		csrf.ErrorHandler(http.HandlerFunc(s.csrfFailed)),
	)
	withCSRF := func(h http.HandlerFunc) http.Handler { return s.plaintextCSRF(protect(h)) }
	r.NotFound(withCSRF(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	}).ServeHTTP)
	r.MethodNotAllowed(withCSRF(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+".")
	}).ServeHTTP)
	r.Group(func(r chi.Router) {
		r.Use(limitBody, s.readForm, s.plaintextCSRF, protect)
		r.Get("/", s.consoleHome)
		r.Get("/login", s.consoleLoginPage)
		r.Post("/login", s.consoleLogin)
		r.Group(func(r chi.Router) {
			r.Use(s.requireConsoleAdmin)
			r.Use(s.auditActor) // audit.go: who acts, for the audit log
			r.Post("/logout", s.consoleLogout)
			s.consoleCoreRoutes(r)
			s.consoleLDAPRoutes(r)
			s.consoleSyncRoutes(r)
			s.consoleAuditRoutes(r)
			s.consoleProvisioningRoutes(r) // console_provisioning.go
		})
	})
}

// plaintextCSRF tells gorilla/csrf that a request came over plain http (no
// TLS here and none in front, as SecureCookies says), so that it compares the
// Origin with http://host and skips the Referer check meant for https.
func (s *Server) plaintextCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil && !s.SecureCookies {
			r = csrf.PlaintextHTTPRequest(r)
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) csrfFailed(w http.ResponseWriter, r *http.Request) {
	s.Log.Warn("console: CSRF check failed", "path", r.URL.Path, "reason", csrf.FailureReason(r))
	if wantsJSON(r) {
		s.writeError(w, http.StatusForbidden, "the form's security token is missing or stale: reload the page", nil)
		return
	}
	s.renderError(w, r, http.StatusForbidden, "This form was not accepted: its security token is missing or has expired. Go back, reload the page and send it again.")
}

// wantsJSON reports whether a console request was made by the console's script.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json") && !strings.Contains(r.Header.Get("Accept"), "text/html")
}

// requireConsoleAdmin lets through requests with the session cookie of an
// active administrator; the others are sent to the sign-in page.
func (s *Server) requireConsoleAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := s.sessionUser(r); ok {
			next.ServeHTTP(w, withAdmin(r, u))
			return
		}
		if wantsJSON(r) {
			s.writeError(w, http.StatusUnauthorized, "the console session has ended: sign in again", nil)
			return
		}
		dest := "/login"
		if r.Method == http.MethodGet {
			dest += "?next=" + url.QueryEscape(r.URL.RequestURI())
		}
		s.setFlash(w, "warn", "Please sign in to continue.")
		http.Redirect(w, r, dest, http.StatusSeeOther)
	})
}

// sessionUser returns the administrator whose session cookie r carries.
func (s *Server) sessionUser(r *http.Request) (users.User, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return users.User{}, false
	}
	u, err := s.Users.AdminForToken(r.Context(), c.Value)
	if err != nil {
		if !apperr.Is(err, apperr.KindUnauthorized) && !apperr.Is(err, apperr.KindForbidden) {
			s.Log.Error("console: session lookup", "err", err)
		}
		return users.User{}, false
	}
	return u, true
}

func (s *Server) setSession(w http.ResponseWriter, token string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteStrictMode})
}

// setFlash leaves a message for the next page shown (after a redirect).
// kind is "ok", "warn" or "error".
func (s *Server) setFlash(w http.ResponseWriter, kind, msg string) {
	v := base64.RawURLEncoding.EncodeToString([]byte(kind + "|" + msg))
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: v, Path: "/", MaxAge: 60,
		HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteStrictMode})
}

// takeFlash reads and clears the flash message.
func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) (kind, msg string) {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return "", ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteStrictMode})
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return "", ""
	}
	kind, msg, ok := strings.Cut(string(raw), "|")
	if !ok {
		return "", ""
	}
	return kind, msg
}

// done sets a flash message and redirects to dest (Post/Redirect/Get).
func (s *Server) done(w http.ResponseWriter, r *http.Request, dest, kind, msg string) {
	s.setFlash(w, kind, msg)
	http.Redirect(w, r, dest, http.StatusSeeOther)
}

// view is what every page template gets.
type view struct {
	Title     string
	Nav       string // the nav entry to mark current
	Admin     users.User
	SignedIn  bool
	CSRFField template.HTML // the hidden input, made by gorilla/csrf
	CSRFToken string
	FlashKind string
	Flash     string
	Error     string            // a problem with the whole form or page
	Errors    map[string]string // problems with one field, by field name
	Data      any               // the page's own data
	Now       time.Time
}

// render writes page name with status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	t, ok := pageTemplates()[name]
	if !ok {
		panic("web: no console template " + name)
	}
	if v.Errors == nil {
		v.Errors = map[string]string{}
	}
	if u := admin(r); u.ID != 0 {
		v.Admin, v.SignedIn = u, true
	}
	v.CSRFField = csrf.TemplateField(r)
	v.CSRFToken = csrf.Token(r)
	v.FlashKind, v.Flash = s.takeFlash(w, r)
	v.Now = s.Now()
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.Log.Error("console: render", "page", name, "err", err)
		http.Error(w, "internal error: see the server log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError shows a page that says what went wrong.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if u, ok := s.sessionUser(r); ok && admin(r).ID == 0 {
		r = withAdmin(r, u)
	}
	s.render(w, r, status, "error", &view{Title: http.StatusText(status), Error: msg, Data: status})
}

// failPage shows an error from a service as a page: a classified error with
// its status and message, anything else as a 500 that points at the log.
func (s *Server) failPage(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := s.explain(r, err)
	s.renderError(w, r, status, msg)
}

// explain turns a service error into a status and a message for a person.
func (s *Server) explain(r *http.Request, err error) (int, string) {
	if e, ok := s.dbFault(r, err); ok {
		return http.StatusServiceUnavailable, sentence(e.Message)
	}
	e, ok := apperr.As(err)
	if !ok {
		s.Log.Error("console: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		return http.StatusInternalServerError, "Something went wrong on the server. The details are in the server log."
	}
	status := httpStatus(e.Kind)
	if e.Kind == apperr.KindUnavailable {
		s.Log.Warn("console: dependency unavailable", "path", r.URL.Path, "err", err)
	}
	return status, sentence(e.Error())
}

// formError puts err on v: next to its field when it names one of fields
// (and it is bad input), otherwise at the top of the form. It returns the
// status to answer with.
func (s *Server) formError(r *http.Request, v *view, err error, fields ...string) int {
	if v.Errors == nil {
		v.Errors = map[string]string{}
	}
	e, ok := apperr.As(err)
	if ok && e.Field != "" {
		for _, f := range fields {
			if f == e.Field {
				v.Errors[f] = fieldMessage(e)
				return statusOf(e)
			}
		}
	}
	status, msg := s.explain(r, err)
	v.Error = msg
	return status
}

func statusOf(e *apperr.Error) int {
	if e.Kind == apperr.KindConflict {
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// fieldMessage is an error's text without its field name, with the script
// position first when there is one.
func fieldMessage(e *apperr.Error) string {
	msg := e.Message
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Line > 0 {
		pos := fmt.Sprintf("line %d, column %d", e.Line, e.Column)
		msg = pos + ": " + strings.Replace(msg, " at "+pos, "", 1)
	}
	return sentence(msg)
}

// sentence capitalises the first letter of msg and ends it with a full stop.
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return msg
	}
	if c := msg[0]; c >= 'a' && c <= 'z' {
		msg = string(c-'a'+'A') + msg[1:]
	}
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") && !strings.HasSuffix(msg, "!") {
		msg += "."
	}
	return msg
}

// consoleHome sends a signed-in administrator to the organizations, anyone else to sign in.
func (s *Server) consoleHome(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.sessionUser(r); ok {
		http.Redirect(w, r, "/orgs", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

type loginData struct {
	Username string
	Next     string
}

func (s *Server) consoleLoginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, ok := s.sessionUser(r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", &view{Title: "Sign in", Data: loginData{Next: next}})
}

func (s *Server) consoleLogin(w http.ResponseWriter, r *http.Request) {
	username := strings.TrimSpace(r.PostFormValue("username"))
	password := r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	v := &view{Title: "Sign in", Data: loginData{Username: username, Next: next}}
	u, tok, err := s.SignIn.AdminSignIn(r.Context(), username, password, s.clientAddr(r))
	if err != nil {
		status := http.StatusUnauthorized
		var ref *throttle.Refused
		switch {
		case errors.As(err, &ref):
			holdBlocked(r, ref)
			w.Header().Set("Retry-After", strconv.Itoa(ref.RetryAfterSeconds()))
			status, v.Error = http.StatusTooManyRequests, "Too many sign-in attempts. Try again "+retryText(ref)+"."
		case apperr.Is(err, apperr.KindUnauthorized):
			v.Error = "Wrong username or password."
		case apperr.Is(err, apperr.KindUnavailable):
			s.Log.Warn("console: sign-in: directory unavailable", "err", err)
			status, v.Error = http.StatusServiceUnavailable, "The directory that checks this account's password cannot be reached right now. Try again later."
		case apperr.Is(err, apperr.KindForbidden) && u.ID != 0:
			// Authenticated, but not an administrator.
			status, v.Error = http.StatusForbidden, "The account "+u.Username+" is not an administrator: the console needs the "+roles.Sysadmin+" role."
		default:
			status, v.Error = s.explain(r, err)
		}
		s.render(w, r, status, "login", v)
		return
	}
	s.setSession(w, tok, int(s.Users.TokenLifetime().Seconds()))
	s.Log.Info("console: signed in", "username", u.Username)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) consoleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if err := s.Users.RevokeToken(r.Context(), c.Value); err != nil {
			s.failPage(w, r, err)
			return
		}
	}
	s.setSession(w, "", -1)
	s.done(w, r, "/login", "ok", "You have signed out.")
}

// safeNext returns where to go after signing in: next when it is a path on
// this server, "/orgs" (the home page) when it is empty, and "/" otherwise
// (docs/rules.md section 10). Browsers strip tabs and line breaks from a URL
// and read a backslash as a slash, so "/\t/evil.example" or "/\\evil.example"
// would leave the site: next must be printable ASCII without a backslash, one
// leading slash not followed by a slash, and pass the same checks once
// percent-decoded ("/%09/evil.example", "/%5Cevil"). The sign-in page itself
// and the API are no destinations.
func safeNext(next string) string {
	if next == "" {
		return "/orgs"
	}
	decoded, err := url.PathUnescape(next)
	if err != nil || !localPath(next, true) || !localPath(decoded, false) {
		return "/"
	}
	for _, p := range []string{next, decoded} {
		if strings.HasPrefix(p, "/login") || strings.HasPrefix(p, "/api/") {
			return "/"
		}
	}
	return next
}

// localPath reports whether p is an absolute path without a host: "/" not
// followed by "/" or "\", no backslash and no control character anywhere;
// raw also refuses spaces and anything outside printable ASCII (a path the
// server made is percent-encoded).
func localPath(p string, raw bool) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\') {
		return false
	}
	if raw {
		for i := 0; i < len(p); i++ {
			if p[i] <= ' ' || p[i] >= 0x7f {
				return false
			}
		}
		return true
	}
	return strings.IndexFunc(p, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError
	}) < 0
}

// pagePathID reads the {name} path parameter as an id, showing a 404 page when it is not one.
func (s *Server) pagePathID(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, name), 10, 64)
	if err != nil || id <= 0 {
		s.renderError(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
		return 0, false
	}
	return id, true
}

// formInt64s reads the ids posted under name.
func formInt64s(r *http.Request, name string) ([]int64, error) {
	out := []int64{}
	for _, v := range r.PostForm[name] {
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, apperr.Invalid(name, "%q is not an id", v)
		}
		out = append(out, n)
	}
	return out, nil
}

// readForm reads a posted form before anything else looks at it, answering
// 400 when it cannot be read and 413 when it is larger than MaxBodyBytes.
func (s *Server) readForm(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				s.Log.Warn("console: bad form", "path", r.URL.Path, "err", err)
				if big := (*http.MaxBytesError)(nil); errors.As(err, &big) {
					http.Error(w, "the form could not be read: "+tooLarge(big), http.StatusRequestEntityTooLarge)
					return
				}
				http.Error(w, "the form could not be read: "+err.Error(), http.StatusBadRequest)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
