#!/usr/bin/env bash
# Fuzzes the config loader (R7) with libFuzzer, ASan and UBSan for SECONDS (default 60).
#   scripts/fuzz.sh [SECONDS]
# Starts from the seed corpus (tests/fuzz/corpus/config, left as it is: what the run finds
# goes to a scratch folder). A crash, leak, UB report or hang (-timeout=10) fails the
# script and leaves its input in tests/fuzz/regressions/config/, which config_tests then
# replays on every test run: fix the loader, keep the file.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
case "$seconds" in
  ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2; exit 2 ;;
esac

scripts/deps.sh rtsan   # clang-22, and libclang-rt-22-dev, which holds libFuzzer
werror=OFF
[ "${CI:-}" = true ] && werror=ON
cmake --preset fuzz -DRT_WERROR="$werror" >/dev/null
cmake --build --preset fuzz --target config_fuzz -- -j"${RT_JOBS:-$(nproc)}"

regressions=tests/fuzz/regressions/config
mkdir -p "$regressions"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# -max_len: a config is small, and 64 KiB reaches every cap but the file size (a unit test).
# -timeout: a parse takes milliseconds; 10 s is a hang, not a slow input.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build/fuzz/tests/fuzz/config_fuzz "$scratch" tests/fuzz/corpus/config \
  -dict=tests/fuzz/config.dict -max_len=65536 -timeout=10 -max_total_time="$seconds" \
  -artifact_prefix="$regressions/" -print_final_stats=1
