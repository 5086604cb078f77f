#!/usr/bin/env bash
# A cross target's sysroot: the target's Debian packages, downloaded (`apt-get download`)
# and unpacked (`dpkg -x`) under build/sysroot/<arch>, never installed. Multiarch
# co-installation (libfoo-dev:<arch> beside libfoo-dev) needs the same version of every
# package on both architectures, which a mirror with one stale index cannot give; a
# folder of unpacked packages needs nothing from the build machine's package database.
#   scripts/sysroot.sh aarch64|armhf    (the same as scripts/deps.sh aarch64|armhf)
# deps.sh sources this file for sysroot_build and holds the package names.
set -euo pipefail

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  exec "$(dirname "$0")/deps.sh" "${1:?usage: scripts/sysroot.sh aarch64|armhf}"
fi

SYSROOT_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/sysroot
readonly SYSROOT_TOP
readonly APT_DEPENDS_ONLY=(--no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances)

# apt-cache rebuilds its package cache on every call when the machine keeps none (Debian's
# container images set Dir::Cache::pkgcache ""): 3 s a call here. This one is ours, and
# apt rebuilds it itself whenever the indexes change.
apt_cache() { apt-cache -o Dir::Cache::pkgcache="$SYSROOT_TOP/.apt-pkgcache.bin" "$@"; }

# One line per package of "$@" (names with or without :<arch>): "name:arch multi-arch
# version" of its candidate; a name apt has no candidate for is left out.
sysroot_show() {
  [ $# -eq 0 ] && return 0
  apt_cache show --no-all-versions "$@" 2>/dev/null | awk '
    /^Package: /      { p = $2 }
    /^Architecture: / { a = $2 }
    /^Multi-Arch: /   { m = $2 }
    /^Version: /      { v = $2 }
    /^$/ { if (p != "") print p ":" a, (m == "" ? "no" : m), v; p = a = m = v = "" }
    END  { if (p != "") print p ":" a, (m == "" ? "no" : m), v }' || true
}

# Prints "name[:arch] version" for the sysroot of architecture $1: the packages of
# TARGET_DEV and TARGET_OPTIONAL and the closure of their Depends and Pre-Depends (the
# first of alternatives, a virtual package's first provider), minus what the cross
# toolchain brings (TOOLCHAIN_PROVIDES) and what depends on it only, minus programs for
# the build machine (Multi-Arch: foreign, of another architecture than all: never linked).
# Arch-all packages (headers) are named without :arch. Three apt-cache calls, whatever
# the size of the closure: each costs a second. Fails naming a TARGET_DEV package that
# has no candidate for $1.
sysroot_closure() {
  local arch=$1 host name info graph list
  local roots=()
  host=$(dpkg --print-architecture)
  # Arch-all packages are asked for by their plain name, the others as name:arch.
  info=$(sysroot_show "${TARGET_DEV[@]}" "${TARGET_OPTIONAL[@]}")
  for name in "${TARGET_DEV[@]}" "${TARGET_OPTIONAL[@]}"; do
    if grep -q "^$name:all " <<<"$info"; then roots+=("$name"); else roots+=("$name:$arch"); fi
  done
  graph=$(apt_cache depends --recurse "${APT_DEPENDS_ONLY[@]}" "${roots[@]}" 2>/dev/null) || true
  mapfile -t names < <(awk '{ n = ($1 ~ /^[|A-Z]/) ? $2 : $1 } n !~ /^</ { print n }' <<<"$graph" | sort -u)
  info=$(sysroot_show "${names[@]}")
  list=$(awk -v arch="$arch" -v host="$host" -v skip=" ${TOOLCHAIN_PROVIDES[*]} " -v roots="${roots[*]}" '
    FNR == NR { ma[$1] = $2; version[$1] = $3; next }
    /^[^ ]/ { cur = $1; want_provider = 0; next }
    /^  [|]?(Pre)?Depends: / {
      if (!in_group) {
        if ($2 ~ /^</) want_provider = 1; else deps[cur] = deps[cur] " " $2
      }
      in_group = substr($0, 3, 1) == "|"; next
    }
    /^    / { if (want_provider) { deps[cur] = deps[cur] " " $1; want_provider = 0 } next }
    END {
      n = split(roots, queue, " ")
      for (i = 1; i <= n; i++) {
        name = queue[i]; base = name; sub(/:.*/, "", base)
        if (done[name]++ || index(skip, " " base " ")) continue
        key = name
        if (name !~ /:/) key = (name ":all" in version) ? name ":all" : name ":" host
        if (!(key in version)) continue
        a = key; sub(/.*:/, "", a)
        if (a != arch && a != "all") continue
        if (ma[key] == "foreign" && a != "all") continue
        print name, version[key]
        m = split(deps[name], d, " ")
        for (j = 1; j <= m; j++) queue[++n] = d[j]
      }
    }' <(printf '%s\n' "$info") <(printf '%s\n' "$graph"))
  for name in "${TARGET_DEV[@]}" "${TARGET_OPTIONAL[@]}"; do
    grep -q "^${name}[ :]" <<<"$list" && continue
    if [[ " ${TARGET_OPTIONAL[*]} " == *" $name "* ]]; then
      log "sysroot: no $arch candidate for $name (optional: the build goes on without it)"
    else
      log "sysroot: no $arch candidate for $name"; return 1
    fi
  done
  printf '%s\n' "$list"
}

# The .deb file apt-get download writes for "name[:arch] version" (an epoch's colon as %3a).
sysroot_deb_name() {
  local name=$1 version=$2 arch=${1#*:}
  [ "$arch" = "$name" ] && arch=all
  printf '%s_%s_%s.deb' "${name%%:*}" "${version//:/%3a}" "$arch"
}

# Downloads the .debs of the list $2 (lines "name[:arch] version") that are not in the
# folder $1 yet, retrying; returns 1 naming the ones that never came.
sysroot_download() {
  local dir=$1 list=$2 i name version
  local want=()
  for ((i = 1; i <= TRIES; i++)); do
    want=()
    while read -r name version; do
      [ -s "$dir/$(sysroot_deb_name "$name" "$version")" ] || want+=("$name=$version")
    done <<<"$list"
    [ ${#want[@]} -eq 0 ] && return 0
    # As root apt warns that it cannot drop to _apt for a folder _apt cannot write; harmless.
    if (cd "$dir" && apt-get download "${want[@]}") >/tmp/rtengine-apt-download.log 2>&1; then
      continue
    fi
    log "apt-get download, try $i/$TRIES, failed:"
    grep -E '^(E:|W:|Err)' /tmp/rtengine-apt-download.log | grep -v 'unsandboxed' | head -20 | sed 's/^/deps:   /' >&2 || true
    sleep $((i * 5)); updated=0; apt_update
  done
  log "sysroot: FAILED to download: ${want[*]}"
  return 1
}

# Debian's packages link a library's .so (and a few other files) to an absolute
# /usr/lib/... or /lib/... path, which inside a sysroot points at the build machine's
# files (or at nothing). Each becomes a relative link inside the sysroot.
sysroot_fix_links() {
  local root=$1 link target
  while IFS= read -r -d '' link; do
    target=$(readlink "$link")
    ln -sfnr "$root$target" "$link"
  done < <(find "$root" -type l -lname '/*' -print0)
}

# sysroot_build TARGET ARCH: build/sysroot/ARCH holds TARGET_DEV's packages for ARCH and
# their dependencies, unpacked. Cached: a stamp lists the packages and versions, and a
# run that finds the same list does nothing.
sysroot_build() {
  local target=$1 arch=$2 list deb name version
  local root=$SYSROOT_TOP/$arch debs=$SYSROOT_TOP/debs-$arch
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    # Gives apt the target's package indexes; nothing of $arch is installed.
    sudo_ dpkg --add-architecture "$arch"
    # shellcheck disable=SC2034 # updated is deps.sh's: apt_update fetches again
    updated=0
    apt_update
  fi
  list=$(sysroot_closure "$arch") || return 1
  if [ -f "$root/.stamp" ] && [ "$(cat "$root/.stamp")" = "$list" ]; then
    log "sysroot $root is up to date ($(wc -l <<<"$list") packages)"
    return 0
  fi
  apt_update  # fresh indexes: a stale one names .debs the mirror no longer has
  list=$(sysroot_closure "$arch") || return 1
  mkdir -p "$debs"
  sysroot_download "$debs" "$list" || return 1
  rm -rf "$root.new"; mkdir -p "$root.new"
  while read -r name version; do
    deb=$debs/$(sysroot_deb_name "$name" "$version")
    dpkg -x "$deb" "$root.new" || { log "sysroot: cannot unpack $deb"; return 1; }
  done <<<"$list"
  sysroot_fix_links "$root.new"
  printf '%s\n' "$list" >"$root.new/.stamp"
  rm -rf "$root"; mv "$root.new" "$root"
  # Only this list's .debs stay in the download cache.
  local keep=" "
  while read -r name version; do keep+="$(sysroot_deb_name "$name" "$version") "; done <<<"$list"
  for deb in "$debs"/*.deb; do [[ "$keep" == *" ${deb##*/} "* ]] || rm -f "$deb"; done
  log "sysroot for $target: $root ($(wc -l <<<"$list") packages)"
}
