#!/usr/bin/env bash
# The main job: installs what is missing, builds the release preset and runs rtengine.
#   scripts/run.sh [ARGS...]     ARGS go to rtengine (default: run, the built-in demo)
# The demo runs for 30 s (Ctrl-C stops it sooner, cleanly) and ends with its report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release >&2
[ $# -eq 0 ] && set -- run
exec build/release/rt/rtengine "$@"
