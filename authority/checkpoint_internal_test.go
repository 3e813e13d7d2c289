package authority

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The write-ahead log is copied back into the database while writers go on
// (SQLite's own checkpoints are off): after rounds of writes, each given
// time for a checkpoint, the log is as large as one round's writes, not
// all of them; the data is whole; closing the database ends the
// checkpoints.
func TestCheckpointsKeepTheLogSmall(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), DBFile)
	db, err := OpenDB(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE filler (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const rounds, perRound = 6, 400
	payload := strings.Repeat("x", 2000) // about half a page per row
	var first int64
	for r := 0; r < rounds; r++ {
		for i := 0; i < perRound; i++ {
			if _, err := db.Exec(`INSERT INTO filler (v) VALUES (?)`, fmt.Sprint(r, i, payload)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(3 * CheckpointEvery)
		st, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		if r == 0 {
			first = st.Size()
			continue
		}
		if st.Size() > 2*first {
			t.Fatalf("after round %d the log is %d bytes, after round 1 %d: it is not copied back", r+1, st.Size(), first)
		}
	}
	var n int
	var check string
	if err := db.Get(&n, `SELECT count(*) FROM filler`); err != nil || n != rounds*perRound {
		t.Fatalf("%d rows (%v), want %d", n, err, rounds*perRound)
	}
	if err := db.Get(&check, `PRAGMA integrity_check`); err != nil || check != "ok" {
		t.Fatalf("integrity check: %q, %v", check, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * CheckpointEvery)
	for {
		buf := make([]byte, 1<<20)
		if !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "authority.checkpoints") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the checkpoints go on after the database closed")
		}
		time.Sleep(CheckpointEvery / 4)
	}
}
