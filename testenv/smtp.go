package testenv

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one message received by an [SMTPSink].
type Message struct {
	From     string      // MAIL FROM
	To       []string    // RCPT TO, in order
	Subject  string      // decoded Subject header
	Body     string      // decoded text body (the first text/plain part of a multipart message)
	Header   mail.Header // the parsed headers
	Raw      []byte      // the message as received
	Username string      // the AUTH PLAIN user, "" without AUTH
	TLS      bool        // sent after STARTTLS
}

// SMTPOption configures an SMTP sink.
type SMTPOption func(*smtpOptions)

type smtpOptions struct {
	startTLS           bool
	username, password string
}

// SMTPStartTLS offers STARTTLS with a certificate signed by a fresh test CA
// (SMTPSink.CACert). AUTH is then only offered after STARTTLS.
func SMTPStartTLS() SMTPOption { return func(o *smtpOptions) { o.startTLS = true } }

// SMTPAuth requires AUTH PLAIN with this username and password before MAIL
// FROM (530 otherwise; a wrong password gets 535).
func SMTPAuth(username, password string) SMTPOption {
	return func(o *smtpOptions) { o.username, o.password = username, password }
}

// SMTPSink is an SMTP server on 127.0.0.1 that keeps every message.
type SMTPSink struct {
	Addr     string // 127.0.0.1:PORT
	Host     string // 127.0.0.1
	Port     int
	CACert   string // PEM of the CA of the STARTTLS certificate (SMTPStartTLS only)
	Username string // required AUTH user (SMTPAuth only)
	Password string

	srv  *smtp.Server
	done chan struct{}
	once sync.Once

	mu       sync.Mutex
	messages []Message
	reject   bool
	notify   chan struct{} // closed and replaced on every new message
}

// StartSMTP starts an SMTP sink on a random loopback port, stopped on
// t.Cleanup. The standard net/smtp client works with it (go-smtp's
// package-level SendMail insists on STARTTLS: use SMTPStartTLS for it).
func StartSMTP(t testing.TB, opts ...SMTPOption) *SMTPSink {
	t.Helper()
	s, stop, err := StartSMTPServer(opts...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(stop)
	return s
}

// StartSMTPServer is StartSMTP without testing.TB. Call stop to shut it down.
func StartSMTPServer(opts ...SMTPOption) (*SMTPSink, func(), error) {
	var o smtpOptions
	for _, opt := range opts {
		opt(&o)
	}
	s := &SMTPSink{Username: o.username, Password: o.password, done: make(chan struct{}), notify: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{sink: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 1000
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.AllowInsecureAuth = !o.startTLS
	if os.Getenv("TESTENV_DEBUG") == "" {
		srv.ErrorLog = log.New(io.Discard, "", 0)
	}
	if o.startTLS {
		cb, err := newCertBundle("smtp")
		if err != nil {
			return nil, nil, err
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cb.tlsCert}, MinVersion: tls.VersionTLS12}
		s.CACert = string(cb.caPEM)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("testenv: smtp: listen: %w", err)
	}
	s.srv = srv
	s.Addr = ln.Addr().String()
	s.Host = "127.0.0.1"
	s.Port = ln.Addr().(*net.TCPAddr).Port
	go func() {
		defer close(s.done)
		_ = srv.Serve(ln)
	}()
	return s, s.Close, nil
}

// Close stops the sink and closes its connections; later deliveries fail
// with "connection refused". It is idempotent.
func (s *SMTPSink) Close() {
	s.once.Do(func() {
		_ = s.srv.Close()
		<-s.done
	})
}

// TLSConfig returns a client TLS configuration that trusts the sink's test
// CA (SMTPStartTLS), with ServerName 127.0.0.1.
func (s *SMTPSink) TLSConfig() *tls.Config { return clientTLSConfig(s.CACert) }

// RejectMessages makes the sink answer every DATA with 554 (on) or accept
// messages again (off), to test a failing mail server.
func (s *SMTPSink) RejectMessages(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = on
}

// Messages returns the messages received so far, oldest first.
func (s *SMTPSink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// Reset forgets the messages received so far.
func (s *SMTPSink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = nil
}

// WaitFor waits until at least n messages have arrived and returns all of
// them; after timeout it fails the test with t.Fatalf.
func (s *SMTPSink) WaitFor(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		msgs, notify := slices.Clone(s.messages), s.notify
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs
		}
		select {
		case <-notify:
		case <-deadline.C:
			t.Fatalf("testenv: smtp: %d message(s) after %v, want %d", len(msgs), timeout, n)
			return msgs
		}
	}
}

func (s *SMTPSink) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	close(s.notify)
	s.notify = make(chan struct{})
}

type smtpSession struct {
	sink     *SMTPSink
	conn     *smtp.Conn
	username string
	from     string
	to       []string
}

func (ss *smtpSession) AuthMechanisms() []string {
	if ss.sink.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	if ss.sink.Username == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnsupported
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.sink.Username || password != ss.sink.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		ss.username = username
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.sink.Username != "" && ss.username == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.sink.mu.Lock()
	reject := ss.sink.reject
	ss.sink.mu.Unlock()
	if reject {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 3, 0}, Message: "testenv: rejecting messages"}
	}
	m := Message{From: ss.from, To: slices.Clone(ss.to), Raw: raw, Username: ss.username}
	_, m.TLS = ss.conn.TLSConnectionState()
	if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		m.Header = msg.Header
		m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil {
			m.Subject = msg.Header.Get("Subject")
		}
		m.Body = decodeBody(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	} else {
		m.Body = string(raw)
	}
	ss.sink.add(m)
	return nil
}

func (ss *smtpSession) Reset() { ss.from, ss.to = "", nil }

func (ss *smtpSession) Logout() error { return nil }

// decodeBody returns the text of a body: transfer encodings undone, and for
// a multipart message its first text/plain part (or its first part).
func decodeBody(contentType, encoding string, body io.Reader) string {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err == nil && strings.HasPrefix(mediaType, "multipart/") && params["boundary"] != "" {
		mr := multipart.NewReader(body, params["boundary"])
		first := ""
		for i := 0; ; i++ {
			p, err := mr.NextRawPart()
			if err != nil {
				return first
			}
			text := decodeBody(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if pt == "text/plain" || pt == "" {
				return text
			}
			if i == 0 {
				first = text
			}
		}
	}
	var r io.Reader = body
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &stripSpace{r: body})
	}
	b, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, io.EOF) {
		return string(b) + "\n[testenv: " + strconv.Quote(err.Error()) + "]"
	}
	return string(b)
}

// stripSpace drops CR, LF, spaces and tabs (line breaks in base64 bodies).
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
