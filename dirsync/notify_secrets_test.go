package dirsync_test

import (
	"strings"
	"testing"
	"time"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/testenv"
)

// TestSMTPPasswordStaysWithItsServer: the stored SMTP password is only ever
// sent to the host, port, STARTTLS setting and username it was entered for.
// Saving a change of any of them without the password again is refused on
// smtp.password, leaves the stored settings as they were, and so the next
// email still goes to the first server; a second server that requires the
// same password never receives a message (it would accept one only after
// receiving the password). With the password typed again the change is
// saved.
func TestSMTPPasswordStaysWithItsServer(t *testing.T) {
	e := start(t)
	s := e.App.Sync
	good := testenv.StartSMTP(t, testenv.SMTPAuth("mailer", "mail-pw"))
	evil := testenv.StartSMTP(t, testenv.SMTPAuth("mailer", "mail-pw"))
	emails := []string{"ops@example.com"}
	saved := dirsync.SMTP{Host: good.Host, Port: good.Port, Username: "mailer", Password: ptr("mail-pw")}
	if _, err := s.SaveNotifications(e.ctx, dirsync.Notifications{Emails: emails, SMTP: saved}); err != nil {
		t.Fatal(err)
	}
	saved.Password = nil

	// The other server's port, without the password: refused, nothing
	// changes, and the next email goes to the first server only.
	m := saved
	m.Port = evil.Port
	_, err := s.SaveNotifications(e.ctx, dirsync.Notifications{Emails: emails, SMTP: m})
	if ae, ok := apperrAs(err); !ok || ae.Field != "smtp.password" || !strings.Contains(strings.ToLower(ae.Message), "enter the password again") {
		t.Errorf("another port without the password: %v, want an error on smtp.password that asks for the password again", err)
	}
	if err := s.SendTestEmail(e.ctx); err != nil {
		t.Errorf("test email: %v", err)
	}
	if got := evil.Messages(); len(got) != 0 {
		t.Fatalf("the other server received %d message(s) as %q: the stored password was sent to it", len(got), got[0].Username)
	}
	if got := good.WaitFor(t, 1, 30*time.Second); got[0].Username != "mailer" {
		t.Errorf("the first server got the test email as %q", got[0].Username)
	}

	for _, c := range []struct {
		name string
		edit func(*dirsync.SMTP)
	}{
		{"another host", func(m *dirsync.SMTP) { m.Host = "localhost"; m.Port = evil.Port }},
		{"another host name, same port", func(m *dirsync.SMTP) { m.Host = "localhost" }},
		{"STARTTLS turned on", func(m *dirsync.SMTP) { m.StartTLS = true }},
		{"another username", func(m *dirsync.SMTP) { m.Username = "someone-else" }},
		{"no username", func(m *dirsync.SMTP) { m.Username = "" }},
		{"the default port", func(m *dirsync.SMTP) { m.Port = 0 }},
	} {
		m := saved
		c.edit(&m)
		_, err := s.SaveNotifications(e.ctx, dirsync.Notifications{Emails: emails, SMTP: m})
		ae, ok := apperrAs(err)
		if !ok || ae.Field != "smtp.password" || !strings.Contains(strings.ToLower(ae.Message), "enter the password again") {
			t.Errorf("%s without the password: %v, want an error on smtp.password that asks for the password again", c.name, err)
		}
	}
	n, err := s.Notifications(e.ctx)
	if err != nil || n.SMTP.Host != good.Host || n.SMTP.Port != good.Port || n.SMTP.Username != "mailer" || n.SMTP.StartTLS || !n.SMTP.HasPassword {
		t.Fatalf("a refused save changed the settings: %+v %v", n.SMTP, err)
	}

	// Unchanged (and the same host written differently: spaces, case): kept.
	same := saved
	same.Host = "  " + strings.ToUpper(good.Host) + " "
	if n, err := s.SaveNotifications(e.ctx, dirsync.Notifications{Emails: emails, SMTP: same}); err != nil || !n.SMTP.HasPassword {
		t.Fatalf("an unchanged server without the password: %+v %v", n.SMTP, err)
	}
	// The password typed again: the move is saved and mail goes there.
	moved := saved
	moved.Port, moved.Password = evil.Port, ptr("mail-pw")
	if n, err := s.SaveNotifications(e.ctx, dirsync.Notifications{Emails: emails, SMTP: moved}); err != nil || !n.SMTP.HasPassword || n.SMTP.Port != evil.Port {
		t.Fatalf("a new port with the password: %+v %v", n.SMTP, err)
	}
	if err := s.SendTestEmail(e.ctx); err != nil {
		t.Fatalf("test email after the move: %v", err)
	}
	if got := evil.WaitFor(t, 1, 30*time.Second); got[0].Username != "mailer" {
		t.Errorf("the new server got the test email as %q", got[0].Username)
	}
	// Without a stored password there is nothing to protect: any change saves.
	if _, err := s.SaveNotifications(e.ctx, dirsync.Notifications{Emails: emails, SMTP: dirsync.SMTP{Host: good.Host, Port: good.Port, Password: ptr("")}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SaveNotifications(e.ctx, dirsync.Notifications{Emails: emails, SMTP: dirsync.SMTP{Host: "localhost", Port: 2525, StartTLS: true, Username: "x"}}); err != nil || n.SMTP.HasPassword {
		t.Fatalf("a change with no stored password: %+v %v", n.SMTP, err)
	}
}
