package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/authority-server/authority/internal/clientaddr"
	"github.com/authority-server/authority/internal/throttle"
)

// clientAddr is the address of the request's client: the TCP peer, or what
// a trusted proxy (Server.TrustedProxies) put in X-Forwarded-For.
func (s *Server) clientAddr(r *http.Request) string {
	return clientaddr.Of(r, s.TrustedProxies)
}

// throttled answers a throttled attempt: 429 {"error":"too many attempts;
// try again later"} with Retry-After in seconds. It reports false (and
// writes nothing) when err is not a *throttle.Refused.
func (s *Server) throttled(w http.ResponseWriter, err error) bool {
	var ref *throttle.Refused
	if !errors.As(err, &ref) {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(ref.RetryAfterSeconds()))
	s.writeError(w, http.StatusTooManyRequests, throttle.Message, nil)
	return true
}

// retryText says in words how long to wait: "in 40 seconds", "in 2 minutes", "in 1 hour".
func retryText(ref *throttle.Refused) string {
	sec := ref.RetryAfterSeconds()
	unit := func(n int, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.Itoa(n) + " " + one + "s"
	}
	switch {
	case sec < 90:
		return "in " + unit(sec, "second")
	case sec < 90*60:
		return "in " + unit((sec+59)/60, "minute")
	default:
		return "in " + unit((sec+3599)/3600, "hour")
	}
}
