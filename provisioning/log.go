package provisioning

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/sqltx"
)

// changeLog gathers the changes of one transaction; run writes them to the
// provider's sync log in that transaction and to the server log as SCIM::
// lines once it commits.
type changeLog struct {
	entries []logEntry
}

type logEntry struct {
	user   int64 // 0: a change that is not a user's (a group's)
	change string
}

func (l *changeLog) add(user int64, change string) {
	l.entries = append(l.entries, logEntry{user, change})
}

// run runs fn in one transaction on behalf of provider p and logs what it
// changed.
func (s *Service) run(ctx context.Context, p Provider, fn func(tx *sqlx.Tx, log *changeLog) error) error {
	return sqltx.Run(ctx, s.DB, func(tx *sqlx.Tx) error {
		var log changeLog
		if err := fn(tx, &log); err != nil {
			return err
		}
		return s.writeLog(ctx, tx, p, log.entries)
	})
}

func (s *Service) writeLog(ctx context.Context, tx *sqlx.Tx, p Provider, entries []logEntry) error {
	if len(entries) == 0 {
		return nil
	}
	at := s.Now().UTC().Format(time.RFC3339)
	lines := make([]string, 0, len(entries))
	for _, e := range entries {
		line := e.change
		if e.user != 0 {
			var who struct {
				Username string `db:"username"`
				OrgID    int64  `db:"org_id"`
				OrgName  string `db:"org_name"`
			}
			if err := tx.GetContext(ctx, &who, `SELECT u.username, u.org_id, o.name AS org_name FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = ?`, e.user); err != nil {
				return fmt.Errorf("provisioning: log: user %d: %w", e.user, err)
			}
			line = fmt.Sprintf("%s user:%d/%s in org:%d/%s", e.change, e.user, who.Username, who.OrgID, who.OrgName)
		}
		line += fmt.Sprintf(" provider:%d/%s", p.ID, p.Name)
		if p.ID != 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO provisioning_log(provider_id, at, line) VALUES(?, ?, ?)`, p.ID, at, line); err != nil {
				return fmt.Errorf("provisioning: log: %w", err)
			}
		}
		lines = append(lines, line)
	}
	sqltx.AfterCommit(tx, func() {
		for _, l := range lines {
			s.Log.Info("SCIM:: " + l)
		}
	})
	return nil
}

// LogEntry is one line of a provider's sync log.
type LogEntry struct {
	At   string `json:"at" db:"at"`
	Line string `json:"line" db:"line"`
}

// LogPage is one page of a provider's sync log, newest first.
type LogPage struct {
	Total   int        `json:"total"`
	Page    int        `json:"page"`
	Entries []LogEntry `json:"entries"`
}

// LogPageSize is the number of lines of a log page.
const LogPageSize = 100

// SyncLog returns page (from 1) of provider id's sync log.
func (s *Service) SyncLog(ctx context.Context, id int64, page int) (LogPage, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return LogPage{}, err
	}
	page = max(page, 1)
	out := LogPage{Page: page, Entries: []LogEntry{}}
	if err := s.DB.GetContext(ctx, &out.Total, `SELECT count(*) FROM provisioning_log WHERE provider_id = ?`, id); err != nil {
		return LogPage{}, fmt.Errorf("provisioning: log of %d: %w", id, err)
	}
	if err := s.DB.SelectContext(ctx, &out.Entries, `SELECT at, line FROM provisioning_log WHERE provider_id = ? ORDER BY id DESC LIMIT ? OFFSET ?`,
		id, LogPageSize, (page-1)*LogPageSize); err != nil {
		return LogPage{}, fmt.Errorf("provisioning: log of %d: %w", id, err)
	}
	return out, nil
}
