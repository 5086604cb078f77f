#!/usr/bin/env bash
# The user-facing benchmark (F27): installs cyclictest/oslat (rt-tests), stress-ng and
# gnuplot, builds the release preset, runs `rtengine bench` and writes every artefact
# (report.txt, bench.json, the histogram CSVs, p1_release.png/.svg and its gnuplot
# script) into one folder.
#   scripts/bench.sh [--out DIR] [rtengine bench options...]
#   default DIR: build/bench/YYYYmmdd-HHMMSS; see `rtengine bench --help` for the options
# Run it as root (or with CAP_SYS_NICE and a high RLIMIT_MEMLOCK): without SCHED_FIFO it
# says so and measures everything under SCHED_OTHER. It passes --rt-unthrottle: RT
# throttling (kernel.sched_rt_runtime_us) is lifted while the bench runs and put back at
# its end, as RT benchmarking guides do for spinning loads (the P1 spin loop, oslat, P7's
# kept-hot worker would otherwise stop for up to 50 ms a second); the report says so.
set -euo pipefail
cd "$(dirname "$0")/.."
# A missing benchmark tool is not fatal: the bench says which contender it skips and why.
scripts/deps.sh bench >&2 || echo "bench.sh: some benchmark tools could not be installed; going on" >&2
scripts/build.sh release >&2
out=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --out=*) out=${1#--out=}; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -n "$out" ] || out=build/bench/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
build/release/rt/rtengine bench --rt-unthrottle --out "$out" "${args[@]}"
echo "bench.sh: every artefact is in $out" >&2
