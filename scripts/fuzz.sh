#!/usr/bin/env bash
# Fuzzes the config loader and the HTTP API's parsers (R7) with libFuzzer, ASan and UBSan.
#   scripts/fuzz.sh [SECONDS] [config|http ...]
# config runs SECONDS (default 60) and http half that: the parsers are small and a run
# covers them in seconds, the loader has far more paths (CI calls `scripts/fuzz.sh 60`:
# 90 s in all). Each target starts from its seed corpus (tests/fuzz/corpus/TARGET, left as
# it is: what the run finds goes to a scratch folder). A crash, leak, UB report or hang
# (-timeout=10) fails the script and leaves its input in tests/fuzz/regressions/TARGET/,
# which config_tests or http_tests then replays on every test run: fix the code, keep the
# file. Both targets run even when the first fails.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
case "$seconds" in
  ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2; exit 2 ;;
esac
shift $(( $# > 0 ? 1 : 0 ))
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(config http)
for t in "${targets[@]}"; do
  case "$t" in
    config|http) ;;
    *) echo "fuzz.sh: unknown target '$t' (config, http)" >&2; exit 2 ;;
  esac
done

scripts/deps.sh rtsan   # clang-22, and libclang-rt-22-dev, which holds libFuzzer
werror=OFF
[ "${CI:-}" = true ] && werror=ON
cmake --preset fuzz -DRT_WERROR="$werror" >/dev/null
cmake --build --preset fuzz --target "${targets[@]/%/_fuzz}" -- -j"${RT_JOBS:-$(nproc)}"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in "${targets[@]}"; do
  case "$t" in
    # -max_len: a config is small, and 64 KiB reaches every cap but the file size (a unit test).
    config) max_len=65536; secs=$seconds ;;
    # -max_len: 16 KiB passes every parser cap (1 KiB query values, 64 parameters, 8
    # levels of nesting); the server refuses larger bodies before they are parsed.
    http) max_len=16384; secs=$(( seconds / 2 > 0 ? seconds / 2 : 1 )) ;;
  esac
  regressions=tests/fuzz/regressions/$t
  mkdir -p "$regressions" "$scratch/$t"
  # -timeout: a parse takes milliseconds; 10 s is a hang, not a slow input.
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "build/fuzz/tests/fuzz/${t}_fuzz" "$scratch/$t" "tests/fuzz/corpus/$t" \
    -dict="tests/fuzz/$t.dict" -max_len="$max_len" -timeout=10 -max_total_time="$secs" \
    -artifact_prefix="$regressions/" -print_final_stats=1; then
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: ${failed[*]} failed; the input is in tests/fuzz/regressions/" >&2
  exit 1
fi
