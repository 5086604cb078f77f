#!/usr/bin/env bash
# Installs the packages scripts/package.sh made on this machine, runs the installed
# program, purges the packages and checks that nothing of theirs is left.
#   scripts/package_check.sh [DIR]    DIR: build/packages/<this machine's arch> by default
# Needs root (apt-get, dpkg). Refuses when rtengine is installed already: that install is
# not this script's to remove.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=$(dpkg --print-architecture)
dir=${1:-build/packages/$arch}
pkgs=(rtengine rtengine-dev)
log() { printf 'package_check: %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

debs=()
for p in "${pkgs[@]}"; do
  deb=$(find "$dir" -maxdepth 1 -name "${p}_*_$arch.deb" | head -1)
  [ -n "$deb" ] || fail "no ${p}_*_$arch.deb in $dir (scripts/package.sh $arch first)"
  debs+=("$(realpath "$deb")")
done
for p in "${pkgs[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed'; then
    fail "$p is installed already; remove it first (dpkg --purge ${pkgs[*]})"
  fi
done

work=$(mktemp -d)
installed=0
cleanup() {
  if [ "$installed" = 1 ]; then
    log "purging after a failure"
    sudo_ dpkg --purge "${pkgs[@]}" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
# What of the packages' paths is there before the install (/usr, /lib, /usr/share/doc...)
# is not theirs to remove; all else must be gone after the purge.
for deb in "${debs[@]}"; do
  dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\./|/|; s|/$||' | grep -v '^/$'
done | sort -u >"$work/paths"
while IFS= read -r path; do
  if [ -e "$path" ] || [ -L "$path" ]; then printf '%s\n' "$path"; fi
done <"$work/paths" >"$work/before"

# apt-get resolves the Depends of local .deb files from the archive; a mirror mid-sync may
# fail once, so a second try follows an update.
log "installing ${debs[*]##*/}"
installed=1
if ! DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y --no-install-recommends "${debs[@]}" >"$work/apt.log" 2>&1; then
  sudo_ apt-get update >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y --no-install-recommends "${debs[@]}" >"$work/apt.log" 2>&1 ||
    { cat "$work/apt.log" >&2; fail "apt-get install"; }
fi
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" | grep -q 'install ok installed' || fail "$p is not installed"
  dpkg -L "$p" >>"$work/files"
done

# The installed program, from its installed path.
bin=/usr/bin/rtengine
conf=/etc/rtengine/rtengine.toml
[ -x "$bin" ] || fail "$bin is not there"
dpkg-query -W -f='${Conffiles}\n' rtengine | grep -q " $conf " || fail "$conf is not a conffile"
getent passwd rtengine >/dev/null || fail "postinst did not create the rtengine user"
run() { log "\$ $*"; "$@" || fail "'$*' exited $?"; }
run "$bin" --version
run "$bin" doctor
run "$bin" validate "$conf"
for ex in /usr/share/rtengine/examples/*.toml; do run "$bin" validate "$ex"; done
run "$bin" run --duration 2s
run "$bin" run "$conf" --duration 2s

log "purging ${pkgs[*]}"
sudo_ dpkg --purge "${pkgs[@]}" >"$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "dpkg --purge"; }
installed=0
for p in "${pkgs[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed\|config-files'; then
    fail "$p is still known to dpkg after the purge"
  fi
done
# Every path dpkg listed for the packages, and every path of their .deb files: what is
# there now and was not before the install is left over.
left=()
while IFS= read -r path; do
  [ -e "$path" ] || [ -L "$path" ] || continue
  grep -qxF -- "$path" "$work/before" && continue
  left+=("$path")
done < <(sort -u "$work/files" "$work/paths" | grep -vx '/\.')
[ ${#left[@]} -eq 0 ] || fail "left after the purge: ${left[*]}"
log "ok: installed, ran doctor and run from $bin, purged with nothing left ($(sort -u "$work/files" "$work/paths" | wc -l) paths checked)"
