package authority

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/casefold"
)

// foldNameKeys is the Go step of migration 0006: it fills users.username_key
// and orgs.name_key with casefold.Key of each name. Where an earlier version
// let two names differ only in non-ASCII case ("Ärzte" and "ärzte"), the
// oldest row takes the key and the later ones keep none (NULL): they stay,
// with their devices, archives and history, but a lookup by name finds the
// oldest. Each such row is logged as a warning.
func foldNameKeys(ctx context.Context, tx *sqlx.Tx) error {
	for _, t := range []struct{ table, name, key, what string }{
		{"orgs", "name", "name_key", "org"},
		{"users", "username", "username_key", "user"},
	} {
		var rows []struct {
			ID   int64  `db:"id"`
			Name string `db:"name"`
		}
		if err := tx.SelectContext(ctx, &rows, fmt.Sprintf(`SELECT id, %s AS name FROM %s ORDER BY id`, t.name, t.table)); err != nil {
			return fmt.Errorf("read the %s names to fold: %w", t.what, err)
		}
		stmt, err := tx.PreparexContext(ctx, fmt.Sprintf(`UPDATE %s SET %s = ? WHERE id = ?`, t.table, t.key))
		if err != nil {
			return fmt.Errorf("fold the %s names: %w", t.what, err)
		}
		defer stmt.Close()
		first := make(map[string]int64, len(rows))
		for _, r := range rows {
			k := casefold.Key(r.Name)
			if id, taken := first[k]; taken {
				slog.Warn(fmt.Sprintf("authority: migration 0006: %s %d (%q) has the name of %s %d ignoring case; lookups by name find %s %d",
					t.what, r.ID, r.Name, t.what, id, t.what, id))
				continue
			}
			first[k] = r.ID
			if _, err := stmt.ExecContext(ctx, k, r.ID); err != nil {
				return fmt.Errorf("fold the name of %s %d: %w", t.what, r.ID, err)
			}
		}
	}
	return nil
}
