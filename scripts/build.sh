#!/usr/bin/env bash
# Installs what the preset needs, configures and builds it.
#   scripts/build.sh [PRESET]    PRESET: release (default), debug, asan, tsan, rtsan, aarch64, armhf
# In CI (CI=true) warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}

case "$preset" in
  release|debug|asan|tsan) extra=() ;;
  rtsan) extra=(rtsan) ;;
  aarch64|armhf) extra=("$preset") ;;
  *) echo "build.sh: unknown preset '$preset' (release, debug, asan, tsan, rtsan, aarch64, armhf)" >&2; exit 2 ;;
esac
scripts/deps.sh "${extra[@]}"

werror=OFF
[ "${CI:-}" = true ] && werror=ON
cmake --preset "$preset" -DRT_WERROR="$werror" >/dev/null
cmake --build --preset "$preset" -- -j"${RT_JOBS:-$(nproc)}"
