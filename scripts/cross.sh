#!/usr/bin/env bash
# One command for a cross target: installs the cross compiler and qemu-user, builds the
# target's sysroot (build/sysroot/<arch>, scripts/sysroot.sh), cross-builds against it, and
# runs the whole test suite under qemu-user.
#   scripts/cross.sh aarch64|armhf
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/cross.sh aarch64|armhf}
case "$target" in
  aarch64|armhf) exec scripts/test.sh "$target" ;;
  *) echo "cross.sh: unknown target '$target' (aarch64, armhf)" >&2; exit 2 ;;
esac
