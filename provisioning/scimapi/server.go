// Package scimapi is the SCIM 2.0 service provider at /scim/v2 (RFC 7643,
// RFC 7644; docs/rules.md section 9). The protocol (schemas, filters, PATCH
// parsing, list responses, errors) is github.com/elimity-com/scim; this
// package authenticates the provider, accepts what Entra ID and Okta really
// send, keeps a provider to its own users and groups, and hands every change
// to package provisioning.
package scimapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/provisioning"
)

// MaxBodyBytes bounds a request body (413 beyond).
const MaxBodyBytes = 1 << 20

// MaxResults caps a list's count (maxResults in /ServiceProviderConfig).
const MaxResults = 1000

// docURI is the service's documentation.
const docURI = "https://github.com/authority-server/authority/blob/main/docs/scim.md"

// Prefix is where the service is mounted.
const Prefix = "/scim/v2"

// Handler serves /scim/v2.
type Handler struct {
	Prov *provisioning.Service
	Log  *slog.Logger
	// Refuse, when set, is asked before the credentials are checked, with
	// the basic username ("" for a bearer token): a non-nil error refuses
	// the request at once with 429 (throttling, docs/rules.md section 10).
	Refuse func(r *http.Request, username string) error
	// Failed, when set, is told of each request with wrong credentials.
	Failed func(r *http.Request, username string)

	scim scim.Server
}

type ctxKey int

const (
	providerKey ctxKey = iota
	errKey
)

func init() {
	// Entra ID sends booleans as strings ("False"); accept them.
	schema.SetAllowStringValues(true)
}

// New returns the handler.
func New(p *provisioning.Service, log *slog.Logger) (*Handler, error) {
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{Prov: p, Log: log}
	users := &userHandler{h: h}
	groups := &groupHandler{h: h}
	srv, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{
			DocumentationURI: optional.NewString(docURI),
			AuthenticationSchemes: []scim.AuthenticationScheme{
				{Type: scim.AuthenticationTypeOauthBearerToken, Name: "OAuth Bearer Token", Description: "The token shown once when the provider was created", Primary: true,
					SpecURI: optional.NewString("https://www.rfc-editor.org/info/rfc6750"), DocumentationURI: optional.NewString(docURI)},
				{Type: scim.AuthenticationTypeHTTPBasic, Name: "HTTP Basic", Description: "The username and password shown once when the provider was created",
					SpecURI: optional.NewString("https://www.rfc-editor.org/info/rfc7617"), DocumentationURI: optional.NewString(docURI)},
			},
			MaxResults:       MaxResults,
			SupportFiltering: true,
			SupportPatch:     true,
		},
		ResourceTypes: []scim.ResourceType{
			{ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Description: optional.NewString("User Account"),
				Schema: schema.CoreUserSchema(), Handler: users,
				SchemaExtensions: []scim.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}, {Schema: authorityExtension()}}},
			{ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups", Description: optional.NewString("Group"),
				Schema: schema.CoreGroupSchema(), Handler: groups},
		},
	}, scim.WithLogger(slogAdapter{log}))
	if err != nil {
		return nil, fmt.Errorf("scimapi: %w", err)
	}
	h.scim = srv
	return h, nil
}

// AuthorityExtension is the schema of the authority's own user attributes:
// orgName (the directory-sync tool's org script result) and employeeType.
const AuthorityExtension = "urn:authority:scim:schemas:extension:2.0:User"

// EnterpriseExtension is RFC 7643's enterprise user extension.
const EnterpriseExtension = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

func authorityExtension() schema.Schema {
	return schema.Schema{
		ID:          AuthorityExtension,
		Name:        optional.NewString("AuthorityUser"),
		Description: optional.NewString("The authority server's user attributes"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "orgName", Description: optional.NewString("The org the user goes to, with the attribute organization mapping")})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "employeeType"})),
		},
	}
}

// ServeHTTP authenticates the provider, bounds and normalises the request,
// checks If-Match, and shapes the answer (attributes, excludedAttributes).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		writeError(w, scimerrors.ScimErrorInvalidSyntax)
		return
	}
	if len(body) > MaxBodyBytes {
		writeError(w, scimerrors.ScimError{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("the request body is over %d bytes", MaxBodyBytes)})
		return
	}
	if len(body) > 0 && (r.Method == http.MethodPatch || r.Method == http.MethodPost || r.Method == http.MethodPut) {
		// elimity reads the first JSON value and ignores what follows, and
		// encoding/json turns invalid UTF-8 into U+FFFD: refuse both.
		if !json.Valid(body) || !utf8.Valid(body) {
			writeError(w, scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidSyntax, Status: http.StatusBadRequest,
				Detail: "the request body is not one JSON value in UTF-8"})
			return
		}
		body = normalise(body)
	}
	holder := &errHolder{}
	ctx := context.WithValue(context.WithValue(r.Context(), providerKey, p), errKey, holder)
	r = r.WithContext(ctx)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	path := strings.TrimPrefix(r.URL.Path, Prefix)
	r.URL.Path = path
	r.URL.RawPath = ""

	if match := r.Header.Get("If-Match"); match != "" && (r.Method == http.MethodPut || r.Method == http.MethodPatch || r.Method == http.MethodDelete) {
		if cur, found := h.currentETag(r, p, path); found && !etagMatches(match, cur) {
			writeError(w, scimerrors.ScimError{Status: http.StatusPreconditionFailed, ScimType: "invalidVers", Detail: "the resource changed since that version (If-Match)"})
			return
		}
	}

	rec := &recorder{header: http.Header{}}
	h.scim.ServeHTTP(rec, r)
	out := rec.body.Bytes()
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	if status == http.StatusInternalServerError {
		if e := holder.get(); e != nil && apperr.Is(e, apperr.KindUnavailable) {
			status = http.StatusServiceUnavailable
			out, _ = json.Marshal(map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:Error"}, "status": "503", "detail": e.Error()})
		} else {
			h.Log.Error("SCIM:: request failed", "method", r.Method, "path", path, "err", holder.get())
			out, _ = json.Marshal(map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:Error"}, "status": "500", "detail": "internal error; the server log has the details"})
		}
	} else if r.Method == http.MethodGet && status == http.StatusOK {
		out = project(out, r.URL.Query().Get("attributes"), r.URL.Query().Get("excludedAttributes"))
		if isList(path) {
			out = fixItemsPerPage(out)
		}
	}
	if status < 300 {
		out = absoluteLocations(out, rec.header, baseURL(r))
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/scim+json")
	w.Header().Set("Content-Length", fmt.Sprint(len(out)))
	w.WriteHeader(status)
	w.Write(out)
}

// baseURL is the service's URL as the client reached it, ending in "/".
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + Prefix + "/"
}

// absoluteLocations makes meta.location and the Location header the
// resource's URL (RFC 7643 3.1: "the URI of the resource"; elimity writes
// them relative, "Users/2"). Only the service writes "location" keys: a
// value a provider sent with that text inside is escaped (\"location\").
func absoluteLocations(out []byte, header http.Header, base string) []byte {
	quoted, _ := json.Marshal(base)
	b := quoted[1 : len(quoted)-1]
	for _, kind := range []string{"Users/", "Groups/"} {
		out = bytes.ReplaceAll(out, []byte(`"location":"`+kind), append(append([]byte(`"location":"`), b...), kind...))
	}
	if loc := header.Get("Location"); loc != "" && !strings.Contains(loc, "://") {
		header.Set("Location", base+strings.TrimPrefix(loc, "/"))
	}
	return out
}

// isList reports whether a GET of path answers a ListResponse.
func isList(path string) bool {
	switch strings.TrimSuffix(path, "/") {
	case "/Users", "/Groups", "/ResourceTypes", "/Schemas":
		return true
	}
	return false
}

// fixItemsPerPage makes a ListResponse's itemsPerPage the number of
// resources it holds (RFC 7644 3.4.2; elimity writes the count asked for).
func fixItemsPerPage(out []byte) []byte {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(out, &doc); err != nil {
		return out
	}
	var res []json.RawMessage
	if raw, ok := doc["Resources"]; ok {
		if err := json.Unmarshal(raw, &res); err != nil {
			return out
		}
	}
	n, _ := json.Marshal(len(res))
	doc["itemsPerPage"] = n
	fixed, err := json.Marshal(doc)
	if err != nil {
		return out
	}
	return fixed
}

// authenticate finds the calling provider from its credentials (401 in the
// SCIM error form when they are wrong, old or missing).
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (provisioning.Provider, bool) {
	auth := r.Header.Get("Authorization")
	var token, user, pass string
	switch {
	case len(auth) > 7 && strings.EqualFold(auth[:7], "Bearer "):
		token = strings.TrimSpace(auth[7:])
	case len(auth) > 6 && strings.EqualFold(auth[:6], "Basic "):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(auth[6:]))
		if err == nil {
			user, pass, _ = strings.Cut(string(raw), ":")
		}
	}
	if h.Refuse != nil {
		if err := h.Refuse(r, user); err != nil {
			w.Header().Set("Retry-After", "60")
			writeError(w, scimerrors.ScimError{Status: http.StatusTooManyRequests, Detail: "too many attempts; try again later"})
			return provisioning.Provider{}, false
		}
	}
	p, err := h.Prov.Authenticate(r.Context(), token, user, pass)
	if err != nil {
		if h.Failed != nil && apperr.Is(err, apperr.KindUnauthorized) {
			h.Failed(r, user)
		}
		if apperr.Is(err, apperr.KindUnauthorized) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="authority SCIM"`)
			writeError(w, scimerrors.ScimError{Status: http.StatusUnauthorized, Detail: "missing or wrong provisioning credentials"})
		} else {
			h.Log.Error("SCIM:: authenticate", "err", err)
			writeError(w, scimerrors.ScimError{Status: http.StatusServiceUnavailable, Detail: "the server cannot check credentials now; try again later"})
		}
		return provisioning.Provider{}, false
	}
	return p, true
}

// providerOf returns the provider that is calling.
func providerOf(r *http.Request) provisioning.Provider {
	p, _ := r.Context().Value(providerKey).(provisioning.Provider)
	return p
}

// scimError turns a service error into a SCIM error (remembering it for
// ServeHTTP, which answers 503 for an unavailable database).
func scimError(r *http.Request, err error, id string) error {
	if h, ok := r.Context().Value(errKey).(*errHolder); ok {
		h.set(err)
	}
	var se scimerrors.ScimError
	if errors.As(err, &se) {
		return se
	}
	e, ok := apperr.As(err)
	if !ok {
		return err
	}
	switch e.Kind {
	case apperr.KindNotFound:
		return scimerrors.ScimErrorResourceNotFound(id)
	case apperr.KindConflict:
		if e.Field == "userName" || e.Field == "username" {
			return scimerrors.ScimError{ScimType: scimerrors.ScimTypeUniqueness, Detail: e.Error(), Status: http.StatusConflict}
		}
		return scimerrors.ScimError{ScimType: scimerrors.ScimTypeMutability, Detail: e.Error(), Status: http.StatusBadRequest}
	case apperr.KindInvalid:
		return scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidValue, Detail: e.Error(), Status: http.StatusBadRequest}
	case apperr.KindForbidden:
		return scimerrors.ScimError{Detail: e.Error(), Status: http.StatusForbidden}
	}
	return err
}

type errHolder struct {
	mu  sync.Mutex
	err error
}

func (h *errHolder) set(err error) { h.mu.Lock(); h.err = err; h.mu.Unlock() }
func (h *errHolder) get() error    { h.mu.Lock(); defer h.mu.Unlock(); return h.err }

func writeError(w http.ResponseWriter, e scimerrors.ScimError) {
	body, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(e.Status)
	w.Write(body)
}

// recorder keeps elimity's answer so that ServeHTTP can shape it.
type recorder struct {
	header http.Header
	body   bytes.Buffer
	status int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}

// etag is a resource's version: a hash of what it says.
func etag(attrs map[string]any) string {
	b, _ := json.Marshal(attrs)
	sum := sha256.Sum256(b)
	return `W/"` + hex.EncodeToString(sum[:8]) + `"`
}

func etagMatches(header, cur string) bool {
	for _, m := range strings.Split(header, ",") {
		m = strings.TrimSpace(m)
		if m == "*" || strings.TrimPrefix(m, "W/") == strings.TrimPrefix(cur, "W/") {
			return true
		}
	}
	return false
}

// currentETag returns the version of the resource path names, if it is one
// of the provider's.
func (h *Handler) currentETag(r *http.Request, p provisioning.Provider, path string) (string, bool) {
	kind, id, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !ok {
		return "", false
	}
	switch kind {
	case "Users":
		res, err := (&userHandler{h: h}).Get(r, id)
		return res.Meta.Version, err == nil
	case "Groups":
		res, err := (&groupHandler{h: h}).Get(r, id)
		return res.Meta.Version, err == nil
	}
	return "", false
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Error(args ...any) { a.l.Warn("SCIM:: protocol", "detail", fmt.Sprint(args...)) }
