#!/usr/bin/env bash
# Installs what rtengine needs from Debian's packages; idempotent.
#   scripts/deps.sh                 native build, tests and benchmarks
#   scripts/deps.sh rtsan           + clang-22 and its RealtimeSanitizer runtime
#   scripts/deps.sh lint            + clang-format and clang-tidy
#   scripts/deps.sh bench           + what rtengine bench runs beside the engine
#   scripts/deps.sh package         + what scripts/package.sh needs (dpkg-shlibdeps, lintian)
#   scripts/deps.sh aarch64|armhf   + the cross compiler, qemu-user, the target's sysroot (build/sysroot/<arch>)
# Every other script calls this one; package names live here only.
set -euo pipefail

# Mirror mid-sync is common: an index fails its size check while `apt-get update`
# still exits 0, so its stderr is read, and every step is retried.
readonly TRIES=${RT_APT_TRIES:-4}

NATIVE=(build-essential cmake ninja-build pkg-config git ca-certificates
        libconcurrentqueue-dev libmimalloc-dev liburing-dev libgtest-dev libgmock-dev
        libbenchmark-dev libtomlplusplus-dev libcli11-dev libcpp-httplib-dev nlohmann-json3-dev
        prometheus-cpp-dev prometheus curl  # prometheus: promtool and the server (scrape_check.sh)
        libsystemd-dev systemd)  # sd_notify (optional: CMake builds without it); systemd-analyze verify
RTSAN=(clang-22 libclang-rt-22-dev)
LINT=(clang-format clang-tidy)
# scripts/package.sh: cpack's Depends (dpkg-shlibdeps), the package checker.
PACKAGE=(dpkg-dev file lintian)
# rtengine bench's contenders and plots: cyclictest and oslat, the load, the plotter.
BENCH=(rt-tests stress-ng gnuplot-nox)
# A cross target's sysroot (scripts/sysroot.sh): these packages for the target's architecture
# and the closure of their dependencies, downloaded and unpacked under build/sysroot/<arch>,
# never installed. The arch-all headers too, so the build sees nothing of the build machine.
TARGET_DEV=(libmimalloc-dev libgtest-dev libgmock-dev libbenchmark-dev libtomlplusplus-dev
            libcpp-httplib-dev prometheus-cpp-dev libsystemd-dev libconcurrentqueue-dev libcli11-dev
            nlohmann-json3-dev)
# The build goes on without these (liburing: the timerfd backend alone).
TARGET_OPTIONAL=(liburing-dev)
# What the cross compiler brings with it (libc6-dev-<arch>-cross, libstdc++-12-dev-<arch>-cross,
# linux-libc-dev-<arch>-cross): left out of the sysroot, and so are their dependencies.
TOOLCHAIN_PROVIDES=(libc6 libc6-dev libc-dev-bin linux-libc-dev libgcc-s1 libstdc++6 gcc-12-base
                    libgcc-12-dev libstdc++-12-dev)

log() { printf 'deps: %s\n' "$*" >&2; }

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing() {  # prints the packages of "$@" that are not installed
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$p"
  done
}

updated=0
apt_update() {
  [ "$updated" = 1 ] && return 0
  local i out
  for ((i = 1; i <= TRIES; i++)); do
    if out=$(sudo_ apt-get update 2>&1); then
      if ! grep -qE '^(W|E): (Failed|Some index files|.*size|.*Hash Sum)' <<<"$out"; then
        updated=1; return 0
      fi
      # Only a cross target's indexes failed (the mirror's armhf security index has been
      # stale for days): the build machine's packages are not in them, and a sysroot's
      # download retries on its own. Not worth a minute of retries on every install.
      local foreign native_bad
      foreign=$(dpkg --print-foreign-architectures | paste -sd'|')
      native_bad=$(grep -E '^(W|E): (Failed|.*size|.*Hash Sum)' <<<"$out" | grep -vE "binary-(${foreign:-none})/" || true)
      if [ -n "$foreign" ] && [ -z "$native_bad" ]; then
        log "apt-get update: only the indexes of $foreign failed (cross targets' sysroots; going on):"
        grep -E '^(W|E): Failed' <<<"$out" | sed 's/^/deps:   /' >&2 || true
        updated=1; return 0
      fi
    fi
    log "apt-get update, try $i/$TRIES, reported:"
    grep -E '^(W|E):' <<<"$out" | sed 's/^/deps:   /' >&2 || true
    sleep $((i * 5))
  done
  # A partly stale index may still serve what we need; the install step says what did not.
  log "apt-get update never came back clean after $TRIES tries; going on with what we have"
  updated=1
}

install() {  # install "$@" (those missing), retrying; returns 1 naming what failed
  local want i
  mapfile -t want < <(missing "$@")
  [ ${#want[@]} -eq 0 ] && return 0
  apt_update
  for ((i = 1; i <= TRIES; i++)); do
    if DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y --no-install-recommends "${want[@]}" >/tmp/rtengine-apt.log 2>&1; then
      log "installed: ${want[*]}"
      return 0
    fi
    log "apt-get install, try $i/$TRIES, failed:"
    grep -E '^(E:|W:| [a-z0-9].*: Depends)' /tmp/rtengine-apt.log | head -20 | sed 's/^/deps:   /' >&2 || true
    updated=0; sleep $((i * 5)); apt_update
  done
  mapfile -t want < <(missing "$@")
  log "FAILED to install: ${want[*]}"
  return 1
}

# sysroot_build (the target's packages unpacked under build/sysroot/<arch>).
# shellcheck source=scripts/sysroot.sh
source "$(dirname "$0")/sysroot.sh"

triple_of() {
  case "$1" in
    aarch64) echo "arm64 aarch64-linux-gnu qemu-user" ;;
    armhf)   echo "armhf arm-linux-gnueabihf qemu-user" ;;
    *) return 1 ;;
  esac
}

install "${NATIVE[@]}"
status=0
for what in "$@"; do
  case "$what" in
    native) ;;
    rtsan) install "${RTSAN[@]}" || status=1 ;;
    lint) install "${LINT[@]}" || status=1 ;;
    package) install "${PACKAGE[@]}" || status=1 ;;
    bench) install "${BENCH[@]}" || status=1 ;;
    aarch64|armhf)
      read -r arch triple qemu < <(triple_of "$what")
      # The cross compiler and qemu-user on the build machine, the target's libraries in
      # its sysroot: nothing of the target's architecture is installed.
      install "g++-$triple" "$qemu" && sysroot_build "$what" "$arch" || status=1 ;;
    *) log "unknown target '$what' (native, rtsan, lint, bench, package, aarch64, armhf)"; exit 2 ;;
  esac
done
exit $status
