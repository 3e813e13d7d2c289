package testenv

import (
	"crypto/tls"
	"net/smtp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

func TestSMTPSinkReceives(t *testing.T) {
	s := StartSMTP(t)
	msg := "From: authority@example.com\r\nTo: a@example.com, b@example.com\r\n" +
		"Subject: =?utf-8?q?DIRSYNC_r=C3=A9sum=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\nusers:2, deactivated:1=\r\n caf=C3=A9\r\n"
	if err := smtp.SendMail(s.Addr, nil, "authority@example.com", []string{"a@example.com", "b@example.com"}, []byte(msg)); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := s.WaitFor(t, 1, 10*time.Second)
	m := got[0]
	if m.From != "authority@example.com" || !slices.Equal(m.To, []string{"a@example.com", "b@example.com"}) {
		t.Errorf("envelope: %q %v", m.From, m.To)
	}
	if m.Subject != "DIRSYNC résumé" {
		t.Errorf("subject = %q", m.Subject)
	}
	if m.Body != "users:2, deactivated:1 café\r\n" {
		t.Errorf("body = %q", m.Body)
	}
	if m.TLS || m.Username != "" || len(m.Raw) == 0 || m.Header.Get("To") == "" {
		t.Errorf("message: %+v", m)
	}
	s.Reset()
	if len(s.Messages()) != 0 {
		t.Error("Reset kept messages")
	}

	// A rejecting sink answers 554.
	s.RejectMessages(true)
	err := smtp.SendMail(s.Addr, nil, "x@example.com", []string{"y@example.com"}, []byte("Subject: x\r\n\r\nx\r\n"))
	if err == nil || !strings.Contains(err.Error(), "554") {
		t.Errorf("rejecting sink: %v", err)
	}
	s.RejectMessages(false)

	// A closed sink refuses connections.
	s.Close()
	if err := smtp.SendMail(s.Addr, nil, "x@example.com", []string{"y@example.com"}, []byte("Subject: x\r\n\r\nx\r\n")); err == nil {
		t.Error("closed sink accepted a message")
	}
}

func TestSMTPSinkAuth(t *testing.T) {
	s := StartSMTP(t, SMTPAuth("mailer", "mail-secret"))
	body := []byte("Subject: hi\r\n\r\nhello\r\n")
	// Without AUTH: refused.
	if err := smtp.SendMail(s.Addr, nil, "x@example.com", []string{"y@example.com"}, body); err == nil {
		t.Error("sent without AUTH")
	}
	// Wrong password: refused.
	if err := smtp.SendMail(s.Addr, smtp.PlainAuth("", "mailer", "wrong", s.Host), "x@example.com", []string{"y@example.com"}, body); err == nil {
		t.Error("sent with a wrong password")
	}
	// Right password (net/smtp allows PLAIN without TLS to 127.0.0.1).
	if err := smtp.SendMail(s.Addr, smtp.PlainAuth("", "mailer", "mail-secret", s.Host), "x@example.com", []string{"y@example.com"}, body); err != nil {
		t.Fatalf("send with AUTH: %v", err)
	}
	m := s.WaitFor(t, 1, 10*time.Second)[0]
	if m.Username != "mailer" || m.Body != "hello\r\n" || m.Subject != "hi" {
		t.Errorf("message: %+v", m)
	}
}

func TestSMTPSinkStartTLS(t *testing.T) {
	s := StartSMTP(t, SMTPStartTLS(), SMTPAuth("mailer", "mail-secret"))
	if s.CACert == "" {
		t.Fatal("no CACert")
	}
	// go-smtp's client: STARTTLS with the CA, then AUTH PLAIN.
	c, err := gosmtp.DialStartTLS(s.Addr, s.TLSConfig())
	if err != nil {
		t.Fatalf("STARTTLS with the CA: %v", err)
	}
	if err := c.Auth(saslPlain("mailer", "mail-secret")); err != nil {
		t.Fatalf("auth: %v", err)
	}
	if err := c.SendMail("x@example.com", []string{"y@example.com"}, strings.NewReader("Subject: tls\r\n\r\nover tls\r\n")); err != nil {
		t.Fatalf("send: %v", err)
	}
	c.Quit()
	m := s.WaitFor(t, 1, 10*time.Second)[0]
	if !m.TLS || m.Username != "mailer" || m.Subject != "tls" {
		t.Errorf("message: %+v", m)
	}

	// Without the CA the handshake (done lazily, at the next command) fails.
	c, err = gosmtp.DialStartTLS(s.Addr, &tls.Config{ServerName: "127.0.0.1"})
	if err == nil {
		err = c.Noop()
		c.Close()
	}
	if err == nil {
		t.Error("STARTTLS without the CA worked")
	}
}

func saslPlain(user, pass string) sasl.Client { return sasl.NewPlainClient("", user, pass) }

func TestDecodeBodyMultipart(t *testing.T) {
	body := "--XX\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\naGVsbG8g\r\nd29ybGQ=\r\n--XX--\r\n"
	if got := decodeBody(`multipart/alternative; boundary="XX"`, "", strings.NewReader(body)); got != "hello world" {
		t.Errorf("body = %q", got)
	}
}
