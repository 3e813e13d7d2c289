package dirsync

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/internal/kv"
	"github.com/authority-server/authority/internal/sqltx"
)

// notificationsKey is the settings document of Settings > Notifications.
const notificationsKey = "dirsync.notifications"

// Limits of Settings > Notifications.
const (
	MaxEmails        = 100
	MaxEmailLength   = 256 // each address, and smtp.from, in characters
	DefaultSMTPPort  = 25
	maxEmailLines    = 1000 // changed users listed in one summary email
	defaultFromLocal = "authority"
)

// SMTP is the mail server the summary email goes through.
type SMTP struct {
	Host     string `json:"host"`
	Port     int    `json:"port"` // 25 when 0
	Username string `json:"username"`
	// Password is write-only: never returned. In a PUT, absent (nil) keeps
	// the stored password and "" removes it. Absent is refused (on
	// "smtp.password") when the host, port, StartTLS or username changes: a
	// stored password only goes where, and as whom, it was entered for.
	Password    *string `json:"password,omitempty"`
	HasPassword bool    `json:"hasPassword"` // read-only
	From        string  `json:"from"`        // the sender address; authority@localhost when empty
	StartTLS    bool    `json:"startTLS"`    // upgrade with STARTTLS when the server offers it
}

// Notifications is Settings > Notifications: where the summary of every
// sync run is emailed.
type Notifications struct {
	Emails []string `json:"emails"`
	SMTP   SMTP     `json:"smtp"`
}

// stored is the settings document: the password sealed with the data
// directory's key.
type stored struct {
	Emails []string `json:"emails"`
	SMTP   struct {
		Host           string `json:"host"`
		Port           int    `json:"port"`
		Username       string `json:"username"`
		PasswordSealed string `json:"passwordSealed"`
		From           string `json:"from"`
		StartTLS       bool   `json:"startTLS"`
	} `json:"smtp"`
}

func (s *Service) loadNotifications(ctx context.Context) (stored, error) {
	var st stored
	if _, err := kv.Get(ctx, s.db, notificationsKey, &st); err != nil {
		return stored{}, fmt.Errorf("dirsync: read notification settings: %w", err)
	}
	if st.Emails == nil {
		st.Emails = []string{}
	}
	return st, nil
}

func (st stored) public() Notifications {
	return Notifications{Emails: st.Emails, SMTP: SMTP{Host: st.SMTP.Host, Port: st.SMTP.Port, Username: st.SMTP.Username,
		HasPassword: st.SMTP.PasswordSealed != "", From: st.SMTP.From, StartTLS: st.SMTP.StartTLS}}
}

// Notifications returns Settings > Notifications (without the password).
func (s *Service) Notifications(ctx context.Context) (Notifications, error) {
	st, err := s.loadNotifications(ctx)
	if err != nil {
		return Notifications{}, err
	}
	return st.public(), nil
}

// SaveNotifications validates and stores Settings > Notifications. Errors
// name the field: "emails[2]", "smtp.host", "smtp.port", "smtp.from", ...;
// "smtp.password" when a password is stored, none is given, and the host,
// port, StartTLS or username changes (the password must be entered again).
func (s *Service) SaveNotifications(ctx context.Context, n Notifications) (Notifications, error) {
	old, err := s.loadNotifications(ctx)
	if err != nil {
		return Notifications{}, err
	}
	var st stored
	st.Emails = []string{}
	if len(n.Emails) > MaxEmails {
		return Notifications{}, apperr.Invalid("emails", "at most %d addresses", MaxEmails)
	}
	seen := map[string]bool{}
	for i, raw := range n.Emails {
		if err := apperr.CheckLine(fmt.Sprintf("emails[%d]", i), raw, MaxEmailLength); err != nil {
			return Notifications{}, err
		}
		addr, err := parseAddress(raw)
		if err != nil {
			return Notifications{}, apperr.Invalid(fmt.Sprintf("emails[%d]", i), "%q is not an email address (like ops@example.com): %v", raw, err)
		}
		if !seen[strings.ToLower(addr)] {
			seen[strings.ToLower(addr)] = true
			st.Emails = append(st.Emails, addr)
		}
	}
	m := n.SMTP
	host := strings.TrimSpace(m.Host)
	if len(host) > 253 || strings.IndexFunc(host, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' }) >= 0 {
		return Notifications{}, apperr.Invalid("smtp.host", "must be a host name or IP address, without spaces, a scheme or a port")
	}
	if m.Port < 0 || m.Port > 65535 {
		return Notifications{}, apperr.Invalid("smtp.port", "must be from 1 to 65535 (or 0 for %d)", DefaultSMTPPort)
	}
	if len(m.Username) > 256 || strings.IndexFunc(m.Username, unicode.IsControl) >= 0 {
		return Notifications{}, apperr.Invalid("smtp.username", "must be at most 256 characters without control characters")
	}
	from := strings.TrimSpace(m.From)
	if err := apperr.CheckLine("smtp.from", from, MaxEmailLength); err != nil {
		return Notifications{}, err
	}
	if from != "" {
		if _, err := mail.ParseAddress(from); err != nil {
			return Notifications{}, apperr.Invalid("smtp.from", "%q is not an email address: %v", from, err)
		}
	}
	st.SMTP.Host, st.SMTP.Port, st.SMTP.Username, st.SMTP.From, st.SMTP.StartTLS = host, m.Port, m.Username, from, m.StartTLS
	st.SMTP.PasswordSealed = old.SMTP.PasswordSealed
	if m.Password == nil && old.SMTP.PasswordSealed != "" {
		if change := passwordDestinationChange(old, st); change != "" {
			return Notifications{}, apperr.Invalid("smtp.password", "enter the password again, or send an empty one to remove it: %s, and a stored password is only sent to the server, port, STARTTLS setting and username it was entered for", change)
		}
	}
	if m.Password != nil {
		if len(*m.Password) > 1024 {
			return Notifications{}, apperr.Invalid("smtp.password", "must be at most 1024 bytes")
		}
		if *m.Password == "" {
			st.SMTP.PasswordSealed = ""
		} else {
			if s.box == nil {
				return Notifications{}, errors.New("dirsync: no key to seal the SMTP password with")
			}
			if st.SMTP.PasswordSealed, err = s.box.Seal(*m.Password); err != nil {
				return Notifications{}, fmt.Errorf("dirsync: seal the SMTP password: %w", err)
			}
		}
	}
	err = sqltx.Run(ctx, s.db, func(tx *sqlx.Tx) error {
		if err := kv.Put(ctx, tx, notificationsKey, st); err != nil {
			return fmt.Errorf("dirsync: save notification settings: %w", err)
		}
		changes := audit.Diff(old.public(), st.public())
		if m.Password != nil && (*m.Password != "" || old.SMTP.PasswordSealed != "") {
			changes = append(changes, audit.Secret("smtp.password"))
		}
		return audit.RecordTx(ctx, tx, audit.SettingsNotifications, "settings:notifications", changes)
	})
	if err != nil {
		return Notifications{}, err
	}
	return st.public(), nil
}

// passwordDestinationChange says how the SMTP settings next change where or
// how the stored password would travel (host, port, STARTTLS, username),
// "" when they do not. Host names compare case-insensitively; port 0 is the
// default port.
func passwordDestinationChange(old, next stored) string {
	port := func(p int) int {
		if p == 0 {
			return DefaultSMTPPort
		}
		return p
	}
	o, n := old.SMTP, next.SMTP
	var changes []string
	if !strings.EqualFold(o.Host, n.Host) || port(o.Port) != port(n.Port) {
		changes = append(changes, fmt.Sprintf("the server changes from %q to %q",
			net.JoinHostPort(o.Host, strconv.Itoa(port(o.Port))), net.JoinHostPort(n.Host, strconv.Itoa(port(n.Port)))))
	}
	if o.StartTLS != n.StartTLS {
		changes = append(changes, fmt.Sprintf("STARTTLS changes from %s to %s", onOff(o.StartTLS), onOff(n.StartTLS)))
	}
	if o.Username != n.Username {
		changes = append(changes, fmt.Sprintf("the username changes from %q to %q", o.Username, n.Username))
	}
	return strings.Join(changes, "; ")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// parseAddress returns the bare address of raw ("Ops <ops@x>" gives ops@x).
func parseAddress(raw string) (string, error) {
	a, err := mail.ParseAddress(strings.TrimSpace(raw))
	if err != nil {
		return "", err
	}
	if strings.ContainsAny(a.Address, "\r\n") {
		return "", errors.New("contains a line break")
	}
	return a.Address, nil
}

// mailer is the SMTP settings ready to send with (password opened).
type mailer struct {
	host, username, password, from string
	port                           int
	startTLS                       bool
	timeout                        time.Duration
	rootCAs                        *x509.CertPool // nil: the system's
}

func (s *Service) mailer(st stored) (mailer, error) {
	m := mailer{host: st.SMTP.Host, port: st.SMTP.Port, username: st.SMTP.Username, from: st.SMTP.From, startTLS: st.SMTP.StartTLS, timeout: s.mailTimeout, rootCAs: s.mailRoots}
	if m.port == 0 {
		m.port = DefaultSMTPPort
	}
	if m.from == "" {
		m.from = defaultFromLocal + "@localhost"
	}
	if st.SMTP.PasswordSealed != "" {
		if s.box == nil {
			return m, errors.New("no key to open the stored SMTP password with")
		}
		pw, err := s.box.Open(st.SMTP.PasswordSealed)
		if err != nil {
			return m, fmt.Errorf("open the stored SMTP password: %w", err)
		}
		m.password = pw
	}
	return m, nil
}

// send delivers msg (headers included) to the recipients: STARTTLS when
// asked for and the server offers it, AUTH PLAIN when a username is set
// (net/smtp refuses it over a clear connection to anything but localhost).
func (m mailer) send(ctx context.Context, to []string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	addr := net.JoinHostPort(m.host, strconv.Itoa(m.port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect to SMTP server %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("SMTP server %s: greeting: %w", addr, err)
	}
	defer c.Close()
	if m.startTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			cfg := &tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12}
			if m.rootCAs != nil {
				cfg.RootCAs = m.rootCAs
			}
			if err := c.StartTLS(cfg); err != nil {
				return fmt.Errorf("SMTP server %s: STARTTLS: %w", addr, err)
			}
		}
	}
	if m.username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("SMTP server %s does not offer AUTH, but a username is set", addr)
		}
		if err := c.Auth(smtp.PlainAuth("", m.username, m.password, m.host)); err != nil {
			return fmt.Errorf("SMTP server %s: AUTH as %s: %w", addr, m.username, err)
		}
	}
	from, err := parseAddress(m.from)
	if err != nil {
		return fmt.Errorf("sender %q: %w", m.from, err)
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("SMTP server %s: MAIL FROM: %w", addr, err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return fmt.Errorf("SMTP server %s: RCPT TO %s: %w", addr, rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("SMTP server %s: DATA: %w", addr, err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("SMTP server %s: send the message: %w", addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("SMTP server %s: end of the message: %w", addr, err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("SMTP server %s: QUIT: %w", addr, err)
	}
	return nil
}

// message builds a text/plain message.
func (m mailer) message(now time.Time, to []string, subject, body string) []byte {
	var b bytes.Buffer
	id := make([]byte, 8)
	rand.Read(id)
	fmt.Fprintf(&b, "From: %s\r\n", m.from)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", subject)
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <dirsync-%s@authority>\r\n", hex.EncodeToString(id))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	qp.Close()
	return b.Bytes()
}

// sendSummary emails the summary of run id to Settings > Notifications and
// logs the outcome. A mail server that is down is logged, never an error of
// the run.
func (s *Service) sendSummary(ctx context.Context, id int64, l *runLog) {
	run, err := s.Get(ctx, id, ListOptions{ChangesLimit: maxEmailLines})
	if err != nil {
		l.main.Error("DIRSYNC:: summary email not sent: " + err.Error())
		return
	}
	st, err := s.loadNotifications(ctx)
	if err != nil {
		l.main.Error("DIRSYNC:: summary email not sent: " + err.Error())
		return
	}
	tail := fmt.Sprintf("to:[%s], users:%d, deactivated:%d, simulated:%t", strings.Join(st.Emails, ", "), run.Counts.Users, run.Counts.Deactivated, run.Simulated)
	if len(st.Emails) == 0 {
		// Nobody to send to: the line keeps the documented form (docs/rules.md section 6), with to:[].
		l.main.Info("DIRSYNC:: summary email sent " + tail)
		return
	}
	if st.SMTP.Host == "" {
		l.main.Warn("DIRSYNC:: summary email not sent " + tail + ": no SMTP server in Settings > Notifications")
		return
	}
	m, err := s.mailer(st)
	if err == nil {
		err = m.send(ctx, st.Emails, m.message(s.now(), st.Emails, summarySubject(run), summaryBody(run)))
	}
	if err != nil {
		l.main.Warn("DIRSYNC:: summary email failed " + tail + ": " + oneLine(err.Error()))
		return
	}
	l.main.Info("DIRSYNC:: summary email sent " + tail)
}

// SendTestEmail sends a short message to the addresses of Settings >
// Notifications, to check the SMTP settings.
func (s *Service) SendTestEmail(ctx context.Context) error {
	st, err := s.loadNotifications(ctx)
	if err != nil {
		return err
	}
	if len(st.Emails) == 0 {
		return apperr.Invalid("emails", "no addresses to send to: add at least one")
	}
	if st.SMTP.Host == "" {
		return apperr.Invalid("smtp.host", "no SMTP server: set one")
	}
	m, err := s.mailer(st)
	if err == nil {
		err = m.send(ctx, st.Emails, m.message(s.now(), st.Emails, "[authority] Test message",
			"This is a test message from the authority server's Settings > Notifications.\n"))
	}
	if err != nil {
		return apperr.Unavailable(err, "the test email was not sent")
	}
	return nil
}

func summarySubject(r Run) string {
	kind := string(r.Trigger)
	if r.Simulated {
		kind = "simulated"
	}
	return fmt.Sprintf("[authority] Directory sync run %d (%s): %s - users:%d, deactivated:%d, activated:%d, moved:%d, rolesChanged:%d, blocked:%d, errors:%d",
		r.ID, kind, r.Status, r.Counts.Users, r.Counts.Deactivated, r.Counts.Activated, r.Counts.Moved, r.Counts.RolesChanged, r.Counts.Blocked, r.Counts.Errors)
}

func summaryBody(r Run) string {
	var b strings.Builder
	sim := ""
	if r.Simulated {
		sim = " SIMULATED: nothing was changed."
	}
	fmt.Fprintf(&b, "Directory sync run %d (trigger: %s, started by %s): %s.%s\n", r.ID, r.Trigger, r.StartedBy, r.Status, sim)
	fmt.Fprintf(&b, "Started:  %s\n", r.StartedAt.UTC().Format(time.RFC3339))
	if r.FinishedAt != nil {
		fmt.Fprintf(&b, "Finished: %s\n", r.FinishedAt.UTC().Format(time.RFC3339))
	}
	if r.Message != "" {
		fmt.Fprintf(&b, "\n%s\n", r.Message)
	}
	c := r.Counts
	fmt.Fprintf(&b, "\nSummary: users:%d, deactivated:%d, activated:%d, moved:%d, rolesChanged:%d, blocked:%d, errors:%d, warnings:%d, simulated:%t\n",
		c.Users, c.Deactivated, c.Activated, c.Moved, c.RolesChanged, c.Blocked, c.Errors, r.Warnings, r.Simulated)
	if len(r.Orgs) > 0 {
		b.WriteString("\nPer org:\n")
		for _, o := range r.Orgs {
			fmt.Fprintf(&b, "  org:%d/%s users:%d, deactivated:%d, activated:%d, moved:%d, rolesChanged:%d, blocked:%d, errors:%d\n",
				o.OrgID, o.OrgName, o.Users, o.Deactivated, o.Activated, o.Moved, o.RolesChanged, o.Blocked, o.Errors)
		}
	}
	if len(r.Changes) > 0 {
		fmt.Fprintf(&b, "\nChanged users (%d line(s)", r.ChangesTotal)
		if r.ChangesTotal > len(r.Changes) {
			fmt.Fprintf(&b, ", the first %d listed; see the history for the rest", len(r.Changes))
		}
		b.WriteString("):\n")
		for _, ch := range r.Changes {
			fmt.Fprintf(&b, "  user:%d/%s org:%d %s", ch.UserID, oneLine(ch.Username), ch.OrgID, ch.Change)
			if ch.From != "" || ch.To != "" {
				fmt.Fprintf(&b, " from %q to %q", ch.From, ch.To)
			}
			if ch.Message != "" {
				fmt.Fprintf(&b, ": %s", oneLine(ch.Message))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}
