package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/authority-server/authority/internal/clientaddr"
	"github.com/authority-server/authority/internal/throttle"
)

// clientAddr is the address of the request's client: the TCP peer, or what
// a trusted proxy (Server.TrustedProxies) put in X-Forwarded-For.
func (s *Server) clientAddr(r *http.Request) string {
	return clientaddr.Of(r, s.TrustedProxies)
}

// BlockedAddressDelay is how long the answer to an attempt from a blocked
// address (one that sent more than perAddressFailures failures within a
// minute) is held before it is sent. Waiting costs no CPU; a client that
// guesses as fast as the answers come then sends a few attempts a second
// instead of thousands, so that it cannot starve other people's sign-ins
// (SPEC section 10). At most maxHeldAnswers are held at once; beyond that
// the answer goes at once.
const BlockedAddressDelay = 250 * time.Millisecond

const maxHeldAnswers = 512

// heldAnswers bounds the answers held by BlockedAddressDelay.
var heldAnswers = make(chan struct{}, maxHeldAnswers)

// holdBlocked waits BlockedAddressDelay when ref refused a blocked address
// (and room is left to hold the answer), or until the client goes away.
func holdBlocked(r *http.Request, ref *throttle.Refused) {
	if !ref.ByAddress {
		return
	}
	select {
	case heldAnswers <- struct{}{}:
	default:
		return
	}
	defer func() { <-heldAnswers }()
	t := time.NewTimer(BlockedAddressDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// throttled answers a throttled attempt: 429 {"error":"too many attempts;
// try again later"} with Retry-After in seconds (held BlockedAddressDelay
// for a blocked address). It reports false (and writes nothing) when err is
// not a *throttle.Refused.
func (s *Server) throttled(w http.ResponseWriter, r *http.Request, err error) bool {
	var ref *throttle.Refused
	if !errors.As(err, &ref) {
		return false
	}
	holdBlocked(r, ref)
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
