#!/usr/bin/env bash
# The main job: installs what is missing, builds the release preset and runs rtengine.
#   scripts/run.sh [ARGS...]     ARGS go to rtengine (default: doctor)
# Until the engine's `run` command lands, the default is the readiness report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release >&2
[ $# -eq 0 ] && set -- doctor
exec build/release/rt/rtengine "$@"
