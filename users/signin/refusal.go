package signin

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/authority-server/authority/internal/throttle"
	"github.com/authority-server/authority/users"
)

// Reason says why a sign-in was refused, in the sign-in log line
// `AUTH:: refused user:USERNAME from:ADDR reason:REASON` (SPEC section 10).
type Reason string

// The reasons of refused sign-ins.
const (
	ReasonBadPassword  Reason = "badPassword"  // a known user (or one found in the directory) with a wrong or empty password
	ReasonUnknownUser  Reason = "unknownUser"  // no such user (nor a registration that could create one)
	ReasonThrottled    Reason = "throttled"    // refused by the throttle without checking the password
	ReasonBlocked      Reason = "blocked"      // the right password, but the user is blocked
	ReasonDeactivated  Reason = "deactivated"  // the right password, but the user is deactivated (or the active script says so)
	ReasonScriptFailed Reason = "scriptFailed" // the directory scripts failed at registration
	ReasonNotAdmin     Reason = "notAdmin"     // the right password of an active user who is not an administrator (API token, console)
)

// maxLoggedBytes bounds the username and address shown in a log line.
const maxLoggedBytes = 256

// attempt is one sign-in attempt: its username and client address, and its
// place in the throttle (nil without one).
type attempt struct {
	s    *Service
	name string
	from string
	t    *throttle.Attempt
}

// begin asks the throttle whether username may try to sign in from addr. A
// refused attempt (counted as a failure by the throttle) is logged and
// returned as its *throttle.Refused. The attempt must be ended: fail,
// refuse, succeed or end.
func (s *Service) begin(username, from string) (*attempt, error) {
	a := &attempt{s: s, name: username, from: from}
	if s.Throttle == nil {
		return a, nil
	}
	t, err := s.Throttle.Begin(username, from)
	if err != nil {
		s.logRefused(username, from, ReasonThrottled)
		return nil, err
	}
	a.t = t
	return a, nil
}

// fail ends the attempt as a failure (wrong credentials, unknown user) and logs it.
func (a *attempt) fail(why Reason) {
	a.t.Fail()
	a.s.logRefused(a.name, a.from, why)
}

// refuse ends the attempt as a refusal that is not a failure (a right
// password of an account that may not sign in) and logs it.
func (a *attempt) refuse(why Reason) {
	a.t.End()
	a.s.logRefused(a.name, a.from, why)
}

// refuseStatus is refuse for the right password of a user who is not active.
func (a *attempt) refuseStatus(u users.User) { a.refuse(statusReason(u)) }

// succeed ends the attempt as a success: the username's failures are cleared.
func (a *attempt) succeed() { a.t.Succeed() }

// end ends the attempt if nothing else did (errors: the directory down, ...).
func (a *attempt) end() { a.t.End() }

func statusReason(u users.User) Reason {
	if u.Status == users.StatusBlocked {
		return ReasonBlocked
	}
	return ReasonDeactivated
}

func (s *Service) logRefused(username, from string, why Reason) {
	s.logger().Info(fmt.Sprintf("AUTH:: refused user:%s from:%s reason:%s", LogValue(username), LogValue(from), why))
}

func (s *Service) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// tooLong reports whether a (trimmed) username is longer than any username
// can be: it is refused as unknown at once, without counting it anywhere.
func tooLong(username string) bool {
	return len(username) > 4*users.MaxUsernameLength || utf8.RuneCountInString(username) > users.MaxUsernameLength
}

// LogValue renders a username or an address for a log line: as it is when
// it is printable with no space, quote or backslash, else Go-quoted (control
// characters escaped, so that no value can forge a line or a field); longer
// than 256 bytes, cut and followed by its length.
func LogValue(v string) string {
	suffix := ""
	if len(v) > maxLoggedBytes {
		n := len(v)
		cut := maxLoggedBytes
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut] + "…"
		suffix = "[" + strconv.Itoa(n) + "B]"
	}
	if v == "" || strings.IndexFunc(v, func(r rune) bool {
		return r == ' ' || r == '"' || r == '\\' || r == utf8.RuneError || !strconv.IsPrint(r)
	}) >= 0 {
		return strconv.Quote(v) + suffix
	}
	return v + suffix
}
