package authority

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/sqltx"
	"github.com/authority-server/authority/internal/stmtcache"
	"modernc.org/sqlite"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DBFile is the name of the SQLite database inside the data directory.
const DBFile = "authority.db"

// MaxOpenConns is the size of the database connection pool.
const MaxOpenConns = 4

// OpenDB opens (creating) the SQLite database at path in WAL mode with foreign
// keys on and a busy timeout, and applies the embedded migrations. A database
// written by a newer binary is refused. The database and its -wal and -shm
// files are 0600.
func OpenDB(ctx context.Context, path string) (*sqlx.DB, error) {
	if err := createOwnerOnly(path); err != nil {
		return nil, err
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(0)&_txlock=immediate"
	// Every statement is prepared once per connection (internal/stmtcache).
	db := sqlx.NewDb(sql.OpenDB(stmtcache.NewConnector(&sqlite.Driver{}, dsn)), "sqlite")
	// SQLite allows one writer; a small pool keeps readers concurrent while
	// writers queue on the busy timeout instead of failing. Every connection
	// is kept open (database/sql keeps 2 idle by default): opening one runs
	// the pragmas and loses its prepared statements (internal/stmtcache),
	// which cost sign-ins under load 8% of the server's CPU.
	db.SetMaxOpenConns(MaxOpenConns)
	db.SetMaxIdleConns(MaxOpenConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("authority: open database %s: %w", path, err)
	}
	if err := Migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	go checkpoints(db)
	return db, nil
}

// CheckpointEvery is how often the database's write-ahead log is copied
// back into the database file.
const CheckpointEvery = 200 * time.Millisecond

// checkpoints copies the write-ahead log back into the database every
// CheckpointEvery until db is closed. SQLite would do it itself inside the
// commit that fills the log to 1,000 pages (wal_autocheckpoint, turned off
// in OpenDB's DSN), holding the write lock, so that one transaction in a
// thousand pages waited for the copy and made every writer behind it wait
// too. A PASSIVE checkpoint here runs beside the writers instead.
func checkpoints(db *sqlx.DB) {
	t := time.NewTicker(CheckpointEvery)
	defer t.Stop()
	for range t.C {
		if _, err := db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil && strings.Contains(err.Error(), "database is closed") {
			return
		}
	}
}

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("authority: migration %s: name must start with a number and '_'", e.Name())
		}
		body, err := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("authority: migrations %s and %s share a number", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// goSteps are the Go parts of migrations, by version, for what SQLite cannot
// compute: each runs in its migration's transaction, after its SQL.
var goSteps = map[int]func(ctx context.Context, tx *sqlx.Tx) error{
	6: foldNameKeys, // 0006_casefold.sql
}

// SchemaVersion is the newest schema this binary knows.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// Migrate brings the database schema up to this binary's version, one
// transaction per migration. It refuses a database newer than the binary.
func Migrate(ctx context.Context, db *sqlx.DB) error { return migrateUpTo(ctx, db, -1) }

// migrateUpTo is Migrate stopping after migration last (-1: the newest), so
// that a test can build the database of an earlier version.
func migrateUpTo(ctx context.Context, db *sqlx.DB, last int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	var current int
	if err := db.GetContext(ctx, &current, `PRAGMA user_version`); err != nil {
		return fmt.Errorf("authority: read schema version: %w", err)
	}
	newest := 0
	if len(ms) > 0 {
		newest = ms[len(ms)-1].version
	}
	if current > newest {
		return fmt.Errorf("authority: the database has schema version %d but this binary knows only up to %d: run a newer authority binary (or restore a backup made for this version)", current, newest)
	}
	for _, m := range ms {
		if m.version <= current || (last >= 0 && m.version > last) {
			continue
		}
		var err error
		if strings.Contains(m.sql, foreignKeysOff) {
			err = migrateWithoutForeignKeys(ctx, db, m)
		} else {
			err = sqltx.Run(ctx, db, func(tx *sqlx.Tx) error { return apply(ctx, tx, m) })
		}
		if err != nil {
			return fmt.Errorf("authority: migration %s: %w", m.name, err)
		}
	}
	return nil
}

// foreignKeysOff marks a migration that rebuilds a table other tables refer
// to: it runs with foreign keys off, as SQLite's table rebuild procedure asks
// (with them on, dropping the old table would cascade to its children).
const foreignKeysOff = "-- migrate: foreign_keys off"

// apply runs migration m in tx and records its version.
func apply(ctx context.Context, tx *sqlx.Tx, m migration) error {
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if step := goSteps[m.version]; step != nil {
		if err := step(ctx, tx); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, m.version))
	return err
}

// migrateWithoutForeignKeys runs m in one transaction on a connection with
// foreign keys off (the pragma cannot change inside a transaction), checks
// every foreign key before committing, and turns them on again.
func migrateWithoutForeignKeys(ctx context.Context, db *sqlx.DB, m migration) error {
	conn, err := db.Connx(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return fmt.Errorf("turn foreign keys off: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`)
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin a transaction: %w", err)
	}
	defer tx.Rollback()
	if err := apply(ctx, tx, m); err != nil {
		return err
	}
	var broken []struct {
		Table  string        `db:"table"`
		RowID  sql.NullInt64 `db:"rowid"`
		Parent string        `db:"parent"`
		FKID   int           `db:"fkid"`
	}
	if err := tx.SelectContext(ctx, &broken, `PRAGMA foreign_key_check`); err != nil {
		return fmt.Errorf("check foreign keys: %w", err)
	}
	if len(broken) > 0 {
		return fmt.Errorf("%d row(s) would break a foreign key, the first in %s (rowid %d) referring to %s", len(broken), broken[0].Table, broken[0].RowID.Int64, broken[0].Parent)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
