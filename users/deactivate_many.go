package users

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users/roles"
)

// manyChunk is how many users one set-wide statement names (below SQLite's
// limit of bound parameters, with room for the other arguments).
const manyChunk = 900

// DeactivateManyTx deactivates users ids on behalf of by, each as
// DeactivateTx would (State.Deactivate decides: on legal hold the user is
// blocked instead; the effects are those of write), but with a few
// statements for the whole set instead of about ten per user. It returns
// each user's transition, by id; a user that does not exist has none. The
// one rule that is not set-wide, the last active administrator (a Conflict
// in refused, by id, and nothing written for that user), is checked one
// administrator at a time after the others, in the order of ids, as
// deactivating them one by one would. Any other error leaves the set half
// written: run it in a savepoint and roll back on error.
func (s *Service) DeactivateManyTx(ctx context.Context, tx *sqlx.Tx, ids []int64, by Reason) (done map[int64]Transition, refused map[int64]error, err error) {
	before, err := statesTx(ctx, tx, ids)
	if err != nil {
		return nil, nil, err
	}
	admins, err := holdingRole(ctx, tx, ids, roles.Sysadmin)
	if err != nil {
		return nil, nil, err
	}
	done = make(map[int64]Transition, len(before))
	refused = map[int64]error{}
	// The users whose state changes, by the state they go to (few kinds),
	// and the newly deactivated, by org (whose archiveHoldDays apply).
	to := map[State][]int64{}
	stopped := []int64{}               // active no longer: tokens revoked
	deactivated := map[int64][]int64{} // org → users entering deactivation
	var one []int64                    // administrators who stop being active: one at a time
	seen := make(map[int64]bool, len(ids))
	for _, id := range ids {
		b, ok := before[id]
		if !ok {
			continue
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		t := Transition{Before: b.State, After: b.State.Deactivate(by)}
		if t.Before.Status == StatusActive && t.After.Status != StatusActive && admins[id] {
			one = append(one, id)
			continue
		}
		done[id] = t
		if t.Before == t.After {
			continue
		}
		to[t.After] = append(to[t.After], id)
		if t.After.Status != StatusActive {
			stopped = append(stopped, id)
		}
		if t.After.Status == StatusDeactivated && t.Before.Status != StatusDeactivated {
			deactivated[b.OrgID] = append(deactivated[b.OrgID], id)
		}
	}
	now := s.stamp()
	for a, set := range to {
		if err := inChunks(set, func(args []any, in string) error {
			_, err := tx.ExecContext(ctx, `UPDATE users SET status = ?, status_reason = ?, pending_reason = ?, updated_at = ? WHERE id IN (`+in+`)`,
				append([]any{string(a.Status), string(a.Reason), string(a.Pending), now}, args...)...)
			return err
		}); err != nil {
			return nil, nil, fmt.Errorf("users: set status of %d users: %w", len(set), err)
		}
	}
	if err := inChunks(stopped, func(args []any, in string) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM api_tokens WHERE user_id IN (`+in+`)`, args...)
		return err
	}); err != nil {
		return nil, nil, fmt.Errorf("users: revoke the tokens of %d users: %w", len(stopped), err)
	}
	for org, set := range deactivated {
		days, err := orgs.HoldDays(ctx, tx, org)
		if err != nil {
			return nil, nil, err
		}
		expires := s.Now().UTC().Add(time.Duration(days) * 24 * time.Hour).Format(time.RFC3339)
		if err := inChunks(set, func(args []any, in string) error {
			if _, err := tx.ExecContext(ctx, `UPDATE devices SET status = 'deactivated' WHERE user_id IN (`+in+`)`, args...); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, archivesToColdSQL(in), append([]any{expires}, args...)...)
			return err
		}); err != nil {
			return nil, nil, fmt.Errorf("users: devices and archives of %d deactivated users of org %d: %w", len(set), org, err)
		}
	}
	for _, id := range one {
		t, err := s.DeactivateTx(ctx, tx, id, by)
		if err != nil {
			if apperr.Is(err, apperr.KindConflict) {
				refused[id] = err
				continue
			}
			return nil, nil, err
		}
		done[id] = t
	}
	return done, refused, nil
}

// stateAt is a user's lifecycle state and org, as statesTx reads them.
type stateAt struct {
	State
	OrgID int64
}

// statesTx returns the lifecycle state and org of those of users ids that
// exist, read inside tx (StateTx for a set).
func statesTx(ctx context.Context, tx *sqlx.Tx, ids []int64) (map[int64]stateAt, error) {
	out := make(map[int64]stateAt, len(ids))
	err := inChunks(ids, func(args []any, in string) error {
		rows, err := tx.QueryContext(ctx, `SELECT u.id, u.status, u.status_reason, u.pending_reason, u.org_id, `+onHoldSQL+` FROM users u WHERE u.id IN (`+in+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var st stateAt
			if err := rows.Scan(&id, &st.Status, &st.Reason, &st.Pending, &st.OrgID, &st.OnHold); err != nil {
				return err
			}
			out[id] = st
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("users: read the state of %d users: %w", len(ids), err)
	}
	return out, nil
}

// holdingRole returns which of users ids hold role.
func holdingRole(ctx context.Context, q sqlx.QueryerContext, ids []int64, role string) (map[int64]bool, error) {
	out := map[int64]bool{}
	err := inChunks(ids, func(args []any, in string) error {
		return eachRow(ctx, q, `SELECT user_id, role FROM user_roles WHERE role = ? AND user_id IN (`+in+`)`, append([]any{role}, args...),
			func(id int64, _ string) { out[id] = true })
	})
	if err != nil {
		return nil, fmt.Errorf("users: read who holds %s: %w", role, err)
	}
	return out, nil
}

// inChunks calls fn for ids in chunks of at most manyChunk, with the chunk
// as arguments and their placeholders ("?,?,?").
func inChunks(ids []int64, fn func(args []any, in string) error) error {
	for chunk := range slices.Chunk(ids, manyChunk) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		if err := fn(args, placeholders(len(chunk))); err != nil {
			return err
		}
	}
	return nil
}
