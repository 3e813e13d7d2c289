package provisioning

import (
	"context"
	"fmt"
)

// UserCount returns how many users provider id has, those it deleted
// included (they stay in the authority, deactivated, for their archives).
func (s *Service) UserCount(ctx context.Context, id int64) (int, error) {
	var n int
	if err := s.DB.GetContext(ctx, &n, `SELECT count(*) FROM users WHERE provider_id = ?`, id); err != nil {
		return 0, fmt.Errorf("provisioning: users of provider %d: %w", id, err)
	}
	return n, nil
}
