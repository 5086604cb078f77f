#!/usr/bin/env bash
# Issue 17's "done means", end to end: `rtengine run --http-port PORT` on the built-in
# demo; `promtool check metrics` on a real scrape of /metrics; then a real Prometheus
# scraping the engine every second until a query returns the engine's series.
#   scripts/scrape_check.sh [PORT]        (default 9100; Prometheus itself on PORT+1)
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-9100}
prom_port=$((port + 1))
scripts/build.sh release >&2   # installs what is missing (promtool, prometheus, curl), builds
bin=build/release/rt/rtengine
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "scrape_check: $*" >&2; for f in "$work"/*.log; do echo "--- $f" >&2; tail -20 "$f" >&2; done; exit 1; }

# Waits up to $1 seconds for "$2 ..." to succeed.
until_ok() {
  local t=$1; shift
  for ((i = 0; i < t * 5; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

"$bin" run --duration 120s --http-port "$port" >"$work/report.log" 2>"$work/run.log" &
engine=$!
pids+=("$engine")
until_ok 20 curl -sf "http://127.0.0.1:$port/health" || fail "the engine's /health never answered on port $port"

curl -sf "http://127.0.0.1:$port/metrics" >"$work/metrics.txt"
# promtool prints each problem (naming, units, histogram shape) and exits non-zero.
promtool check metrics <"$work/metrics.txt" >"$work/promtool.log" 2>&1 || fail "promtool check metrics refused /metrics"
[ -s "$work/promtool.log" ] && fail "promtool check metrics had remarks"
echo "scrape_check: promtool check metrics: clean ($(grep -c '^rtengine_' "$work/metrics.txt") samples)"

cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: rtengine
    static_configs:
      - targets: ["127.0.0.1:$port"]
        labels: {device: "ci"}
YML
promtool check config "$work/prometheus.yml" >/dev/null
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids+=("$!")
query="http://127.0.0.1:$prom_port/api/v1/query"
has_series() {
  curl -sf --get "$query" --data-urlencode "query=$1" | grep -q '"result":\[{'
}
until_ok 60 has_series 'rtengine_execution_jitter_seconds_count{device="ci"}' ||
  fail "Prometheus never got rtengine_execution_jitter_seconds from the engine"
p99=$(curl -sf --get "$query" --data-urlencode \
  'query=histogram_quantile(0.99, sum by (loop, le) (rtengine_execution_jitter_seconds_bucket))')
echo "scrape_check: Prometheus scraped the engine; release jitter p99 per loop: $p99"

kill -INT "$engine"
wait "$engine" || fail "rtengine run did not end cleanly after SIGINT (exit $?)"
pids=("${pids[@]:1}")
echo "scrape_check: the run ended cleanly"
