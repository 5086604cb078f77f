#!/usr/bin/env bash
# Format and static checks with the configs at the root (.clang-format, .clang-tidy).
#   scripts/lint.sh           check formatting and run clang-tidy
#   scripts/lint.sh --fix     rewrite files with clang-format, then run clang-tidy
#   scripts/lint.sh --format  formatting only (cheap; CI runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-check}
scripts/deps.sh lint

mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
if [ "$mode" = --fix ]; then
  clang-format -i "${files[@]}"
else
  clang-format --dry-run -Werror "${files[@]}"
  echo "lint: clang-format: ${#files[@]} files formatted as .clang-format says"
fi
[ "$mode" = --format ] && exit 0

scripts/build.sh release >/dev/null
# Each source is checked with the flags of the build that compiles it. A file missing from
# a compile database is not skipped quietly: clang-tidy would guess its flags from a
# neighbour's (the fuzz targets then lost their include paths and "failed" on headers).
# The fuzz targets are only in the fuzz preset (clang-22), configured here, not built.
mapfile -t sources < <(git ls-files '*.cpp')
in_db() {  # DB FILE...: the FILEs the database compiles
  local db=$1; shift
  local -A known=()
  while IFS= read -r f; do known[$f]=1; done < <(grep -o '"file": *"[^"]*"' "$db" | sed 's/^"file": *"//; s/"$//')
  for f in "$@"; do [ -z "${known[$(realpath "$f")]:-}" ] || echo "$f"; done
}
mapfile -t release_sources < <(in_db build/release/compile_commands.json "${sources[@]}")
mapfile -t rest < <(printf '%s\n' "${sources[@]}" | grep -vxF -f <(printf '%s\n' "${release_sources[@]}"))
fuzz_sources=()
if [ "${#rest[@]}" -gt 0 ]; then
  scripts/deps.sh rtsan >/dev/null   # clang-22 for the fuzz preset's configure
  cmake --preset fuzz >/dev/null
  mapfile -t fuzz_sources < <(in_db build/fuzz/compile_commands.json "${rest[@]}")
  mapfile -t missing < <(printf '%s\n' "${rest[@]}" | grep -vxF -f <(printf '%s\n' "${fuzz_sources[@]}") || true)
  if [ "${#missing[@]}" -gt 0 ]; then
    # Built only in a configuration this machine is not in (timer_uring_none.cpp: no liburing).
    echo "lint: in no compile database here, checked with the flags of their neighbours: ${missing[*]}"
    release_sources+=("${missing[@]}")
  fi
fi
# clang-tidy 14 does not know GCC's -Wno-restrict workaround; it is harmless to drop.
# One clang-tidy per 8 files, nproc at a time; xargs fails when any of them does.
tidy() { printf '%s\0' "${@:2}" | xargs -0 -n 8 -P "$(nproc)" clang-tidy -p "$1" --quiet --extra-arg=-Wno-unknown-warning-option; }
tidy build/release "${release_sources[@]}"
[ "${#fuzz_sources[@]}" -eq 0 ] || tidy build/fuzz "${fuzz_sources[@]}"
echo "lint: clang-tidy: ${#release_sources[@]} files (release) and ${#fuzz_sources[@]} (fuzz preset) clean"
