package users

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
)

// Device is a computer that backs up; its GUID is stable for its life.
type Device struct {
	GUID     string    `json:"guid" db:"guid"`
	Name     string    `json:"name" db:"name"`
	UserID   int64     `json:"userId" db:"user_id"`
	Status   string    `json:"status" db:"status"` // "active" or "deactivated"
	Archives []Archive `json:"archives" db:"-"`
}

// Archive is one backup destination of a device.
type Archive struct {
	GUID                 string  `json:"guid" db:"guid"`
	DeviceGUID           string  `json:"-" db:"device_guid"`
	State                string  `json:"state" db:"state"` // "normal", "cold" or "expired"
	ColdStorageExpiresAt *string `json:"coldStorageExpiresAt" db:"cold_storage_expires_at"`
}

// MaxDeviceGUIDLength bounds device GUIDs.
const MaxDeviceGUIDLength = 128

// MaxDeviceNameLength bounds device names, in characters.
const MaxDeviceNameLength = 256

// ValidateDevice checks what a sign-in sends about its device: the GUID's
// form (deviceGuid) and the name's length (deviceName).
func ValidateDevice(guid, name string) error {
	if err := validGUID("deviceGuid", guid); err != nil {
		return err
	}
	return apperr.CheckLine("deviceName", name, MaxDeviceNameLength)
}

func validGUID(field, guid string) error {
	if strings.TrimSpace(guid) == "" {
		return apperr.Invalid(field, "is required")
	}
	if len(guid) > MaxDeviceGUIDLength || strings.ContainsAny(guid, " \t\r\n\x00/") {
		return apperr.Invalid(field, "must be at most %d characters without spaces or slashes", MaxDeviceGUIDLength)
	}
	return nil
}

// RegisterDeviceTx registers device guid to user id with one new archive, or
// recognises it when it is already the user's (reactivating it if the user is
// active). A device of another user is refused.
func (s *Service) RegisterDeviceTx(ctx context.Context, tx *sqlx.Tx, userID int64, guid, name string) (Device, error) {
	if err := ValidateDevice(guid, name); err != nil {
		return Device{}, err
	}
	var d Device
	err := sqlx.GetContext(ctx, tx, &d, `SELECT guid, name, user_id, status FROM devices WHERE guid = ?`, guid)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		now := s.stamp()
		if name == "" {
			name = guid
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO devices(guid, user_id, name, status, created_at) VALUES(?, ?, ?, 'active', ?)`, guid, userID, name, now); err != nil {
			return Device{}, fmt.Errorf("users: register device %s: %w", guid, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO archives(guid, device_guid, state, created_at) VALUES(?, ?, 'normal', ?)`, newGUID(), guid, now); err != nil {
			return Device{}, fmt.Errorf("users: archive for device %s: %w", guid, err)
		}
	case err != nil:
		return Device{}, fmt.Errorf("users: device %s: %w", guid, err)
	case d.UserID != userID:
		return Device{}, apperr.Forbidden("device %s belongs to another user", guid)
	default:
		if name != "" && name != d.Name {
			if _, err := tx.ExecContext(ctx, `UPDATE devices SET name = ? WHERE guid = ?`, name, guid); err != nil {
				return Device{}, fmt.Errorf("users: rename device %s: %w", guid, err)
			}
		}
		if d.Status != "active" {
			if _, err := tx.ExecContext(ctx, `UPDATE devices SET status = 'active' WHERE guid = ? AND (SELECT status FROM users WHERE id = ?) = 'active'`, guid, userID); err != nil {
				return Device{}, fmt.Errorf("users: reactivate device %s: %w", guid, err)
			}
		}
	}
	return deviceTx(ctx, tx, guid)
}

func deviceTx(ctx context.Context, q sqlx.QueryerContext, guid string) (Device, error) {
	var d Device
	if err := sqlx.GetContext(ctx, q, &d, `SELECT guid, name, user_id, status FROM devices WHERE guid = ?`, guid); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Device{}, apperr.NotFound("device %s does not exist", guid)
		}
		return Device{}, fmt.Errorf("users: device %s: %w", guid, err)
	}
	d.Archives = []Archive{}
	if err := sqlx.SelectContext(ctx, q, &d.Archives, `SELECT guid, device_guid, state, cold_storage_expires_at FROM archives WHERE device_guid = ? ORDER BY created_at, guid`, guid); err != nil {
		return Device{}, fmt.Errorf("users: archives of %s: %w", guid, err)
	}
	return d, nil
}

// RegisterDevice registers a device in its own transaction.
func (s *Service) RegisterDevice(ctx context.Context, userID int64, guid, name string) (Device, error) {
	var d Device
	err := s.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		d, err = s.RegisterDeviceTx(ctx, tx, userID, guid, name)
		return err
	})
	return d, err
}

// Devices lists user id's devices with their archives.
func (s *Service) Devices(ctx context.Context, userID int64) ([]Device, error) {
	if _, err := s.Get(ctx, userID); err != nil {
		return nil, err
	}
	var guids []string
	if err := s.DB.SelectContext(ctx, &guids, `SELECT guid FROM devices WHERE user_id = ? ORDER BY created_at, guid`, userID); err != nil {
		return nil, fmt.Errorf("users: devices of %d: %w", userID, err)
	}
	out := []Device{}
	for _, g := range guids {
		d, err := deviceTx(ctx, s.DB, g)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// ReplaceDevice makes device newGUID (created if new) take over the archives
// of user id's device oldGUID; the old device is deactivated. The archives
// keep their GUIDs and states.
func (s *Service) ReplaceDevice(ctx context.Context, userID int64, oldGUID, newGUID string) (Device, error) {
	if err := validGUID("newDeviceGuid", newGUID); err != nil {
		return Device{}, err
	}
	if oldGUID == newGUID {
		return Device{}, apperr.Invalid("newDeviceGuid", "must differ from the device being replaced")
	}
	var out Device
	err := s.InTx(ctx, func(tx *sqlx.Tx) error {
		old, err := deviceTx(ctx, tx, oldGUID)
		if err != nil {
			return err
		}
		if old.UserID != userID {
			return apperr.NotFound("user %d has no device %s", userID, oldGUID)
		}
		var owner int64
		err = tx.GetContext(ctx, &owner, `SELECT user_id FROM devices WHERE guid = ?`, newGUID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, `INSERT INTO devices(guid, user_id, name, status, created_at) VALUES(?, ?, ?, 'active', ?)`, newGUID, userID, newGUID, s.stamp()); err != nil {
				return fmt.Errorf("users: replace device: %w", err)
			}
		case err != nil:
			return fmt.Errorf("users: replace device: %w", err)
		case owner != userID:
			return apperr.Forbidden("device %s belongs to another user", newGUID)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE archives SET device_guid = ? WHERE device_guid = ?`, newGUID, oldGUID); err != nil {
			return fmt.Errorf("users: move archives: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET status = 'deactivated' WHERE guid = ?`, oldGUID); err != nil {
			return fmt.Errorf("users: deactivate replaced device: %w", err)
		}
		if out, err = deviceTx(ctx, tx, newGUID); err != nil || !audit.Active(ctx) {
			return err
		}
		u, err := GetTx(ctx, tx, userID)
		if err != nil {
			return err
		}
		return audit.RecordTx(ctx, tx, audit.UserDeviceReplace, Target(u), []audit.Change{audit.Field("device", oldGUID, newGUID)})
	})
	return out, err
}

// ExpireArchives marks every cold archive past its coldStorageExpiresAt
// expired, and returns how many it marked.
func (s *Service) ExpireArchives(ctx context.Context) (int64, error) {
	res, err := s.DB.ExecContext(ctx, `UPDATE archives SET state = 'expired' WHERE state = 'cold' AND cold_storage_expires_at <= ?`, s.stamp())
	if err != nil {
		return 0, fmt.Errorf("users: expire archives: %w", err)
	}
	return res.RowsAffected()
}

// RunExpiry calls ExpireArchives every interval until ctx ends, logging through logf.
func (s *Service) RunExpiry(ctx context.Context, interval time.Duration, logf func(n int64, err error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.ExpireArchives(ctx)
		if logf != nil && (n > 0 || err != nil) {
			logf(n, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func newGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
