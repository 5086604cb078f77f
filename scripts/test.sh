#!/usr/bin/env bash
# Installs, builds and runs the whole test suite of one preset (default: release).
#   scripts/test.sh [PRESET]
# Cross presets (aarch64, armhf) run the suite under qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
scripts/build.sh "$preset"

args=(--preset "$preset" -j"${RT_JOBS:-$(nproc)}")
case "$preset" in
  # ThreadSanitizer maps its shadow at fixed addresses; with the large mmap randomisation
  # of recent kernels (vm.mmap_rnd_bits = 32) GCC 12's runtime fails with "unexpected
  # memory mapping". Running without address randomisation avoids it.
  tsan) exec setarch "$(uname -m)" -R ctest "${args[@]}" ;;
  *) exec ctest "${args[@]}" ;;
esac
