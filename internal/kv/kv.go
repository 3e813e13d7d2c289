// Package kv stores small settings documents (JSON values under a key) in the
// settings table, so each domain package can keep its own settings without a
// table of its own.
package kv

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Get loads the value stored under key into v. It reports false, and leaves v
// as it was, when nothing is stored under key.
func Get(ctx context.Context, q sqlx.QueryerContext, key string, v any) (bool, error) {
	var raw string
	err := sqlx.GetContext(ctx, q, &raw, `SELECT value FROM settings WHERE key = ?`, key)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("kv: get %s: %w", key, err)
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return false, fmt.Errorf("kv: decode %s: %w", key, err)
	}
	return true, nil
}

// Put stores v as JSON under key, replacing what was there.
func Put(ctx context.Context, e sqlx.ExecerContext, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("kv: encode %s: %w", key, err)
	}
	if _, err := e.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES(?, ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, string(raw)); err != nil {
		return fmt.Errorf("kv: put %s: %w", key, err)
	}
	return nil
}
