package testenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Paths of the Debian Samba binaries.
var (
	SambaPath     = "/usr/sbin/samba"
	SambaToolPath = "/usr/bin/samba-tool"
	LdbmodifyPath = "/usr/bin/ldbmodify"
	LdbsearchPath = "/usr/bin/ldbsearch"
)

// SambaInstallCommand installs what [StartSambaAD] needs on Debian.
const SambaInstallCommand = "apt-get install -y --no-install-recommends samba samba-ad-dc samba-ad-provision samba-dsdb-modules samba-vfs-modules ldb-tools"

// ErrSambaNotInstalled is returned (wrapped) when samba, samba-tool or
// ldbmodify or ldbsearch is missing.
var ErrSambaNotInstalled = errors.New("samba is not installed (" + SambaInstallCommand + ")")

// ErrSambaNeedsRoot is returned when the tests do not run as root: a Samba
// AD DC refuses to start otherwise, and it listens on port 389.
var ErrSambaNeedsRoot = errors.New("samba AD DC needs root (ports 389/636, and samba refuses to run as another user)")

// sambaTemplateVersion names the layout of the provisioned template; change
// it when the provisioning changes (the population is hashed).
const sambaTemplateVersion = "3"

// sambaProvisionArgs provision the domain with no DNS into targetdir.
func sambaProvisionArgs(targetdir string) []string {
	return []string{"domain", "provision", "--targetdir=" + targetdir, "--realm=" + SambaRealm,
		"--domain=" + SambaDomain, "--server-role=dc", "--dns-backend=NONE", "--host-name=dc1",
		"--adminpass=" + SambaAdminPassword, "--use-rfc2307"}
}

func sambaInstalled() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("%w: Samba AD tests run on Linux only", ErrSambaNotInstalled)
	}
	for _, p := range []string{SambaPath, SambaToolPath, LdbmodifyPath, LdbsearchPath} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrSambaNotInstalled, p, err)
		}
	}
	if os.Geteuid() != 0 {
		return ErrSambaNeedsRoot
	}
	return nil
}

var sambaVersionOnce = sync.OnceValues(func() (string, error) {
	out, err := exec.Command(SambaPath, "-V").Output()
	if err != nil {
		return "", fmt.Errorf("testenv: samba: version: %w", err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "Version ")
	return regexp.MustCompile(`[^A-Za-z0-9.+-]`).ReplaceAllString(v, "_"), nil
})

// SambaCacheDir returns the directory holding the provisioned templates:
// $TESTENV_SAMBA_CACHE, or /tmp/authority-samba-VERSION (VERSION is Samba's).
func SambaCacheDir() (string, error) {
	if d := os.Getenv("TESTENV_SAMBA_CACHE"); d != "" {
		return d, nil
	}
	v, err := sambaVersionOnce()
	if err != nil {
		return "", err
	}
	return filepath.Join(os.TempDir(), "authority-samba-"+v), nil
}

// sambaTemplate returns a populated template directory for this many
// generated people, making it first if needed. The cache directory holds
// "base" (the provisioned domain, made once per machine, ~6 s) and one
// "pop-HASH" per population (base plus the LDIF, ~3.5 ms per generated
// person). A file lock serializes the making across processes (parallel test
// packages); a template becomes visible by a rename, when complete.
func sambaTemplate(ctx context.Context, generated int) (string, error) {
	cache, err := SambaCacheDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return "", fmt.Errorf("testenv: samba: template cache: %w", err)
	}
	var ldif bytes.Buffer
	if err := writeSambaLDIF(&ldif, generated); err != nil {
		return "", fmt.Errorf("testenv: samba: population LDIF: %w", err)
	}
	// The LDIF holds times (lockout, account expiry): hash it without them.
	sum := sha256.Sum256([]byte(sambaTemplateVersion + "\n" + regexp.MustCompile(`(?m)^(lockoutTime|accountExpires): \d+$`).ReplaceAllString(ldif.String(), "$1")))
	pop := filepath.Join(cache, "pop-"+hex.EncodeToString(sum[:8]))
	if complete(pop) {
		return pop, nil
	}

	unlock, err := lockFile(filepath.Join(cache, "lock"))
	if err != nil {
		return "", fmt.Errorf("testenv: samba: lock the template cache: %w", err)
	}
	defer unlock()
	if complete(pop) { // made by another process meanwhile
		return pop, nil
	}
	base := filepath.Join(cache, "base")
	if !complete(base) {
		if err := sambaProvision(ctx, base); err != nil {
			return "", err
		}
	}
	tmp := pop + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", fmt.Errorf("testenv: samba: populate: %w", err)
	}
	if err := copyDir(ctx, base, tmp); err != nil {
		return "", fmt.Errorf("testenv: samba: populate: %w", err)
	}
	if err := os.Remove(filepath.Join(tmp, ".complete")); err != nil {
		return "", fmt.Errorf("testenv: samba: populate: %w", err)
	}
	sam := filepath.Join(tmp, "private", "sam.ldb")
	conf := filepath.Join(tmp, "etc", "smb.conf")
	if err := ldbmodify(ctx, sam, conf, ldif.Bytes()); err != nil {
		return "", fmt.Errorf("testenv: samba: populate: %w", err)
	}
	var back bytes.Buffer
	if err := writeSambaBackdateLDIF(&back); err != nil {
		return "", fmt.Errorf("testenv: samba: populate: %w", err)
	}
	if err := ldbmodify(ctx, sam, conf, back.Bytes(), "--controls=local_oid:"+sambaBypassLastSetOID+":0"); err != nil {
		return "", fmt.Errorf("testenv: samba: populate: backdate passwords: %w", err)
	}
	if err := grantReplicatingChanges(ctx, sam, conf); err != nil {
		return "", fmt.Errorf("testenv: samba: populate: %w", err)
	}
	if err := markComplete(tmp); err != nil {
		return "", fmt.Errorf("testenv: samba: populate: %w", err)
	}
	if err := os.Rename(tmp, pop); err != nil {
		return "", fmt.Errorf("testenv: samba: populate: %w", err)
	}
	return pop, nil
}

// sambaProvision provisions the domain into dir (through dir.tmp).
func sambaProvision(ctx context.Context, dir string) error {
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("testenv: samba: provision: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("testenv: samba: provision: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, SambaToolPath, sambaProvisionArgs(tmp)...)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testenv: samba: provision: %w: %s", err, lastLines(string(out), 20))
	}
	if err := markComplete(tmp); err != nil {
		return fmt.Errorf("testenv: samba: provision: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("testenv: samba: provision: %w", err)
	}
	return nil
}

// ldbmodify applies LDIF to an offline sam.ldb with Samba's modules, as the
// system (no ACLs, any password over no network).
func ldbmodify(ctx context.Context, sam, conf string, ldif []byte, extra ...string) error {
	args := append([]string{"-H", sam, "--configfile=" + conf, "--nosync"}, extra...)
	cmd := exec.CommandContext(ctx, LdbmodifyPath, args...)
	cmd.Stdin = bytes.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ldbmodify: %w: %s", err, lastLines(string(out), 10))
	}
	return nil
}

// grantReplicatingChanges gives the service account the "Replicating
// Directory Changes" right (DS-Replication-Get-Changes) on the domain, which
// the DirSync control needs without LDAP_DIRSYNC_OBJECT_SECURITY: what an
// administrator grants the product's account for dirsync change tracking.
// It does not get "Replicating Directory Changes All" (secret attributes).
func grantReplicatingChanges(ctx context.Context, sam, conf string) error {
	cmd := exec.CommandContext(ctx, SambaToolPath, "dsacl", "set", "-H", sam, "--configfile="+conf,
		"--car=get-changes", "--action=allow", "--objectdn="+SambaBaseDN, "--trusteedn="+SambaServiceDN)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("samba-tool dsacl set (Replicating Directory Changes for %s): %w: %s", SambaServiceDN, err, lastLines(string(out), 10))
	}
	// Samba (unlike Windows) applies the ACLs of CN=Deleted Objects to
	// DirSync: without List and Read Property there, the service account's
	// DirSync never returns a deleted object. Add an ACE for it, as an
	// administrator does with dsacls on Windows for tombstone readers.
	sid, err := ldbValue(ctx, sam, conf, SambaServiceDN, "objectSid")
	if err != nil {
		return err
	}
	deleted := "CN=Deleted Objects," + SambaBaseDN
	sd, err := ldbValue(ctx, sam, conf, deleted, "nTSecurityDescriptor", "--controls=show_deleted:1")
	if err != nil {
		return err
	}
	i := strings.Index(sd, "D:")
	if i < 0 {
		return fmt.Errorf("the security descriptor of %s has no DACL: %s", deleted, sd)
	}
	j := i + 2
	for j < len(sd) && sd[j] >= 'A' && sd[j] <= 'Z' { // DACL flags (PAI)
		j++
	}
	sd = sd[:j] + "(A;;LCRP;;;" + sid + ")" + sd[j:]
	ldif := "dn: " + deleted + "\nchangetype: modify\nreplace: nTSecurityDescriptor\nnTSecurityDescriptor: " + sd + "\n"
	if err := ldbmodify(ctx, sam, conf, []byte(ldif), "--controls=show_deleted:1"); err != nil {
		return fmt.Errorf("let %s read %s: %w", SambaServiceDN, deleted, err)
	}
	return nil
}

// ldbValue reads one attribute of one entry of an offline sam.ldb (its
// string form: SDDL for a security descriptor, S-1-5-... for a SID).
func ldbValue(ctx context.Context, sam, conf, dn, attr string, extra ...string) (string, error) {
	args := append([]string{"-H", sam, "--configfile=" + conf, "-b", dn, "-s", "base"}, extra...)
	args = append(args, "(objectClass=*)", attr)
	out, err := exec.CommandContext(ctx, LdbsearchPath, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ldbsearch %s of %s: %w: %s", attr, dn, err, lastLines(string(out), 10))
	}
	unfolded := strings.ReplaceAll(string(out), "\n ", "") // LDIF folds long lines
	for _, line := range strings.Split(unfolded, "\n") {
		if v, ok := strings.CutPrefix(line, attr+": "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("ldbsearch: %s has no %s: %s", dn, attr, lastLines(string(out), 10))
}

func complete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ".complete"))
	return err == nil
}

func markComplete(dir string) error {
	return os.WriteFile(filepath.Join(dir, ".complete"), []byte(time.Now().Format(time.RFC3339)+"\n"), 0o600)
}

// copyDir copies src to dst (which must not exist) with cp -a, keeping the
// sparse tdb files sparse.
func copyDir(ctx context.Context, src, dst string) error {
	if out, err := exec.CommandContext(ctx, "cp", "-a", "--sparse=auto", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("copy %s: %w: %s", src, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
