#!/usr/bin/env bash
# Installs what the tests need (slapd, ldap-utils, chromium, node with the
# SCIM conformance checker's packages, and Samba as an Active Directory domain
# controller: samba, samba-ad-dc, samba-ad-provision, samba-dsdb-modules,
# samba-vfs-modules, ldb-tools) where missing, then vets and runs every test
# with the race detector. The Samba AD tests need root; without it they are
# skipped (or fail when CI is set).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need+=(slapd)
command -v ldapsearch >/dev/null 2>&1 || need+=(ldap-utils)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/sbin/samba ] || need+=(samba)
for pkg in samba-ad-dc samba-ad-provision samba-dsdb-modules samba-vfs-modules ldb-tools; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# The independent SCIM check (provisioning/scimapi/testdata/conformance) runs on node with SCIMMY.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "installing: nodejs npm"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm
fi
conformance=provisioning/scimapi/testdata/conformance
if [ ! -d "$conformance/node_modules/scimmy" ]; then
  (cd "$conformance" && { npm ci --offline --no-audit --no-fund >/dev/null 2>&1 || npm ci --no-audit --no-fund; })
fi

go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go test -race -count=1 -timeout 40m ./... "$@"
