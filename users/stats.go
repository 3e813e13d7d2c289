package users

import (
	"context"
	"fmt"
)

// CountByStatus returns the number of users of each status (active,
// blocked, deactivated), for the metrics.
func (s *Service) CountByStatus(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := s.DB.SelectContext(ctx, &rows, `SELECT status, count(*) AS n FROM users GROUP BY status`); err != nil {
		return nil, fmt.Errorf("users: count users by status: %w", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}
