#!/usr/bin/env bash
# config/systemd: `systemd-analyze verify` accepts rtengine.service, and systemd-sysusers
# accepts rtengine.sysusers (a dry run into an empty root). verify checks that ExecStart's
# program exists, so it verifies a copy whose ExecStart is the built binary (the same
# arguments). verify reports an unknown key or a bad value as a warning and still exits
# 0: any line it prints fails the test.
#   tests/config/systemd_verify.sh SOURCE_DIR RTENGINE_BINARY
# Exit 77 (ctest: skipped) without systemd-analyze.
set -euo pipefail

src=$1
bin=$2
unit=$src/config/systemd/rtengine.service
users=$src/config/systemd/rtengine.sysusers

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze not found (scripts/deps.sh installs the systemd package)"
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

grep -q '^ExecStart=/usr/bin/rtengine run /etc/rtengine/rtengine.toml$' "$unit" || {
  echo "FAIL: $unit: ExecStart is not '/usr/bin/rtengine run /etc/rtengine/rtengine.toml'"
  exit 1
}
sed "s|^ExecStart=/usr/bin/rtengine |ExecStart=$bin |" "$unit" >"$tmp/rtengine.service"
status=0
out=$(systemd-analyze verify --man=no "$tmp/rtengine.service" 2>&1) || status=$?
if [ "$status" -ne 0 ] || [ -n "$out" ]; then
  echo "FAIL: systemd-analyze verify (exit $status):"
  echo "$out"
  exit 1
fi
echo "ok: systemd-analyze verify accepts rtengine.service"

if command -v systemd-sysusers >/dev/null; then
  mkdir -p "$tmp/root/etc"
  out=$(systemd-sysusers --dry-run --root="$tmp/root" "$(realpath "$users")" 2>&1) || {
    echo "FAIL: systemd-sysusers:"
    echo "$out"
    exit 1
  }
  grep -q "Creating user 'rtengine'" <<<"$out" || {
    echo "FAIL: rtengine.sysusers creates no user 'rtengine':"
    echo "$out"
    exit 1
  }
  echo "ok: systemd-sysusers creates the rtengine user"
fi
