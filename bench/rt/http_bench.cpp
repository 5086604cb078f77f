// Issue 17, item 7: does the HTTP API move the RT side? A periodic task's release latency
// (its start minus its grid point) with and without a client hammering GET /metrics and
// POST /tasks at the server's rate limit, in the same process and the same run, PAIRED
// (support/paired.hpp): "loaded" blocks (the client at work) and "quiet" blocks (the client
// idle, blocked on an atomic wait) alternate, adjacent, order alternating per pair; the
// figure is the median over pairs of the per-pair ratio loaded / quiet of p50, p99, p99.9
// and max. Target: p99 ratio <= 1.1.
//
// Unlike the other paired benches, ONE engine, one Api and one Server live across every
// block: the comparison is the HTTP load, not a contender's setup. Worker 0 runs only the
// periodic task (classes 0, RT_BENCH_CPU_WORKER); worker 1 every class (the tasks POST
// /tasks submits; RT_BENCH_CPU_PRODUCER); the monitor beside worker 1. The server's threads
// are plain SCHED_OTHER, kept off the loop's CPU as `rtengine run` keeps them
// (ServerConfig::cpus), and so is the client. Both matter: loopback TCP does the receiving
// side's protocol work in softirq on the SENDING CPU, which a SCHED_FIFO thread cannot
// preempt on a kernel without PREEMPT_RT; an unpinned client alone moved p99 by ~1.17 here
// (a remote client's packets land where the NIC's IRQs are routed: keep those off the RT
// CPUs too). RT_BENCH_CPU_HTTP=-1 leaves server and client unpinned (measured: p99 ratio
// ~1.2-1.3 on this VM's PREEMPT_DYNAMIC kernel); N pins both to CPU N. The client: two threads, one GET /metrics
// and one POST /tasks {"type":"noop"} (a trivial callable), together offering RT_BENCH_CLIENT_RATE requests per second
// (default three times the limit, so the limiter is at work all block long and answers part of them 429; 0: as fast as
// they can). Each block lists the requests made, answered 2xx, 429 and otherwise: the load is seen to be real. The
// token bucket refills while the client is idle, so a loaded block of T s gets about burst + rate x T answers. A new
// connection per request by default: on a kept-alive one each answer waited ~50 ms here (20 per second per connection,
// measured), the server writing headers and body apart without TCP_NODELAY, so Nagle holds the body for the client's
// delayed ACK; RT_BENCH_KEEP_ALIVE=1 measures that way anyway.
//
// The VM: our VMs alternate periods of about a second in which everything is ~3x slower.
// The absolute latencies (the contender table, the per-block table) swing with them from
// block to block, which is why only the per-pair ratios are compared; a pair that straddles
// a change gives a ratio far from 1 either way, which the median over pairs throws away
// but the IQR shows. Blocks of 1 s (the default) are as long as those periods, so many
// pairs straddle one: more pairs, or shorter blocks (fewer samples, so a noisier p99: at
// 1 kHz a 500 ms block's p99 is its 5th-worst release), narrow the spread. In a slow
// period the server also spends ~3x the CPU per request, so "loaded" is heavier there.
//
//   build/release/bench/rt_http_bench
// Environment: RT_BENCH_PAIRS (default 20), RT_BENCH_BLOCK_MS (default 1000),
// RT_BENCH_PERIOD_US (default 1000), RT_BENCH_HTTP_RATE (the server's limit, requests per
// second per client address, default 200), RT_BENCH_HTTP_BURST (default 200),
// RT_BENCH_CLIENT_RATE, RT_BENCH_KEEP_ALIVE (see above), RT_BENCH_PRIO (default 80; 0
// keeps SCHED_OTHER), RT_BENCH_CPU_WORKER (default 1), RT_BENCH_CPU_PRODUCER (default 0),
// RT_BENCH_CPU_MONITOR (default RT_BENCH_CPU_PRODUCER; -1 unpinned), RT_BENCH_CPU_HTTP
// (see above), RT_BENCH_NULL (1: the client stays idle in "loaded" blocks too).
// Smoke run (CI): RT_BENCH_PAIRS=1 RT_BENCH_BLOCK_MS=200.
#include <benchmark/benchmark.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "hal/clock.hpp"
#include "hal/cpu.hpp"
#include "hal/thread.hpp"
#include "rt/engine.hpp"
#include "rthttp/api.hpp"
#include "rthttp/server.hpp"
#include "support/conditions.hpp"
#include "support/env.hpp"
#include "support/paired.hpp"

namespace {

using bench_support::BlockResult;
using bench_support::Contender;
using bench_support::env_int;
using bench_support::median;
using bench_support::prio;
using bench_support::producer_cpu;
using bench_support::quantile;
using bench_support::Stat;
using bench_support::worker_cpu;
using hal::ns_t;

int block_ms() { return std::clamp(env_int("RT_BENCH_BLOCK_MS", 1000), 50, 10'000); }
ns_t period() { return std::max(200, env_int("RT_BENCH_PERIOD_US", 1000)) * hal::kNsPerUs; }
int http_rate() { return std::max(1, env_int("RT_BENCH_HTTP_RATE", 200)); }
int http_burst() { return std::max(1, env_int("RT_BENCH_HTTP_BURST", 200)); }
int client_rate() { return std::max(0, env_int("RT_BENCH_CLIENT_RATE", 3 * http_rate())); }
int monitor_cpu() { return env_int("RT_BENCH_CPU_MONITOR", producer_cpu()); }
bool keep_alive() { return env_int("RT_BENCH_KEEP_ALIVE", 0) != 0; }
// The null experiment: the client never starts, so both sides are quiet and the ratios
// show the method's own spread on this machine at this time.
bool null_run() { return env_int("RT_BENCH_NULL", 0) != 0; }
// -2 (default): the server's threads on every online CPU but the loop's, as `rtengine run`
// places them (rt/cli/serve.hpp, housekeeping_cpus); -1: unpinned; N: the server and the
// client on CPU N.
constexpr int kHttpAuto = -2;
int http_cpu() { return env_int("RT_BENCH_CPU_HTTP", kHttpAuto); }

std::vector<int> http_cpus() {
  if (http_cpu() == kHttpAuto) {
    std::vector<int> cpus;
    for (const int cpu : hal::read_cpu_info().online)
      if (cpu != worker_cpu()) cpus.push_back(cpu);
    return cpus;
  }
  return {};
}

// Before each block's samples: a loaded block's connections are up and its requests
// flowing; a quiet block's predecessor's last requests have been answered.
constexpr ns_t kSettle = 50 * hal::kNsPerMs;
constexpr int kClients = 2;

void sleep_ns(ns_t ns) { std::this_thread::sleep_for(std::chrono::nanoseconds(ns)); }
double us(ns_t ns) { return static_cast<double>(ns) / 1000.0; }

// Written by the periodic task, one entry per run; a block reads the entries between two
// counts. 64 Ki entries: 13 s at the shortest period, more than the longest block.
struct ReleaseLog {
  static constexpr std::size_t kSize = std::size_t{1} << 16;
  std::vector<ns_t> late = std::vector<ns_t>(kSize);
  std::atomic<std::uint64_t> count{0};
  // RT: wait-free; no allocation (the periodic worker is the only writer).
  void record(ns_t v) noexcept {
    const std::uint64_t i = count.load(std::memory_order_relaxed);
    late[static_cast<std::size_t>(i % kSize)] = v;
    count.store(i + 1, std::memory_order_release);
  }
};

struct Tally {
  std::uint64_t ok = 0, limited = 0, other = 0;
  [[nodiscard]] std::uint64_t total() const noexcept { return ok + limited + other; }
};

// Two client threads (one per endpoint), each with its own keep-alive connection, idle
// until set_active(true). They ignore Retry-After: hammering is the point.
class LoadClient {
 public:
  explicit LoadClient(int port) {
    const double each = client_rate() / static_cast<double>(kClients);
    const ns_t interval = each > 0 ? static_cast<ns_t>(1e9 / each) : 0;
    threads_.reserve(kClients);
    for (int i = 0; i < kClients; ++i)
      threads_.emplace_back(hal::ThreadSpec{.name = i == 0 ? "bench-metrics" : "bench-tasks"},
                            [this, port, interval, i] { run(port, interval, i == 0); });
  }
  ~LoadClient() {
    quit_.store(true);
    set_active(true);
    for (hal::Thread& t : threads_)
      t.join();
  }
  LoadClient(const LoadClient&) = delete;
  LoadClient& operator=(const LoadClient&) = delete;

  void set_active(bool on) {
    active_.store(on);
    active_.notify_all();
  }
  [[nodiscard]] Tally tally() const noexcept {
    return {ok_.load(std::memory_order_relaxed), limited_.load(std::memory_order_relaxed),
            other_.load(std::memory_order_relaxed)};
  }

 private:
  void run(int port, ns_t interval, bool metrics) {
    httplib::Client cli("127.0.0.1", port);
    cli.set_keep_alive(keep_alive());
    cli.set_tcp_nodelay(true);
    const std::string body = R"({"type":"noop"})";
    ns_t next = hal::now_ns();
    while (!quit_.load()) {
      if (!active_.load()) {
        active_.wait(false);
        next = hal::now_ns();
        continue;
      }
      if (interval > 0) {
        next += interval;
        const ns_t now = hal::now_ns();
        if (next > now)
          sleep_ns(next - now);
        else if (now - next > interval)
          next = now;                   // behind (a slow period): no catch-up burst
        if (!active_.load()) continue;  // stopped while this thread slept: the block is over
      }
      const httplib::Result r = metrics ? cli.Get("/metrics") : cli.Post("/tasks", body, "application/json");
      const int status = r ? r->status : 0;  // 0: no answer (connection refused, timed out)
      std::atomic<std::uint64_t>& counter = status == 429 ? limited_ : status >= 200 && status < 300 ? ok_ : other_;
      counter.fetch_add(1, std::memory_order_relaxed);
    }
  }

  std::atomic<bool> active_{false}, quit_{false};
  std::atomic<std::uint64_t> ok_{0}, limited_{0}, other_{0};
  std::vector<hal::Thread> threads_;
};

rt::EngineConfig engine_config() {
  rt::EngineConfig c;
  c.workers = {rt::WorkerConfig{.cpu = worker_cpu(), .priority = prio(), .classes = 0},
               rt::WorkerConfig{.cpu = producer_cpu(), .priority = prio(), .classes = rt::kAllClasses}};
  c.monitor.cpu = monitor_cpu();
  c.task_types = {"noop"};
  return c;
}

// One block's figures, beside what PairedRun keeps (max, the client's counts).
struct Block {
  bench_support::Percentiles p;
  double max_us = 0;
  std::uint64_t releases = 0, skipped = 0;
  Tally requests;
};

// Everything that lives across the blocks, in the order it is set up.
struct Rig {
  rt::Engine engine{engine_config()};
  ReleaseLog log;
  int loop = -1;
  rt::TaskFn noop;
  std::unique_ptr<rt::http::Api> api;
  std::unique_ptr<rt::http::Server> server;
  std::unique_ptr<LoadClient> client;
  std::vector<Block> quiet, loaded;

  Rig() {
    ReleaseLog* lp = &log;
    loop = engine.add_periodic(rt::PeriodicSpec{.name = "loop", .period = period(), .phase = period(), .worker = 0},
                               [lp](rt::TaskContext& ctx) { lp->record(hal::now_ns() - ctx.release()); });
    noop.emplace([](rt::TaskContext&) {});
    engine.start();
    rt::http::Catalog cat;
    cat.types.push_back({.name = "noop", .type = 0, .fn = &noop, .defaults = {}});
    api = std::make_unique<rt::http::Api>(engine, std::move(cat), rt::http::ApiConfig{});
    rt::http::ServerConfig sc;
    sc.port = 0;
    sc.rate = http_rate();
    sc.burst = http_burst();
    sc.cpus = http_cpus();
    // The client threads (and, with RT_BENCH_CPU_HTTP=N, the server's) inherit this
    // thread's affinity.
    if (http_cpu() >= 0) (void)hal::apply_to_current_thread({.name = "bench-main", .cpu = http_cpu()});
    if (http_cpu() == kHttpAuto) (void)hal::set_current_affinity(sc.cpus);
    server = std::make_unique<rt::http::Server>(*api, std::move(sc));
    server->start();
    client = std::make_unique<LoadClient>(server->port());
    (void)engine.start_periodic(loop);
  }
  ~Rig() {
    client.reset();
    server->stop();
    (void)engine.stop_periodic(loop);
    (void)engine.stop(rt::StopMode::Drain);
  }
  Rig(const Rig&) = delete;
  Rig& operator=(const Rig&) = delete;

  BlockResult block(bool load) {
    if (load && !null_run()) client->set_active(true);
    sleep_ns(kSettle);
    const Tally t0 = client->tally();
    const std::uint64_t from = log.count.load(std::memory_order_acquire);
    const std::uint64_t skipped0 = engine.periodic_stats(loop).skipped;
    sleep_ns(block_ms() * hal::kNsPerMs);
    const std::uint64_t to = log.count.load(std::memory_order_acquire);
    const Tally t1 = client->tally();
    if (load) client->set_active(false);
    Block b;
    b.releases = to - from;
    b.skipped = engine.periodic_stats(loop).skipped - skipped0;
    b.requests = {t1.ok - t0.ok, t1.limited - t0.limited, t1.other - t0.other};
    if (b.releases < 10) return {{}, "only " + std::to_string(b.releases) + " releases in a block"};
    bench_support::Samples s(static_cast<std::size_t>(b.releases));
    ns_t worst = 0;
    for (std::uint64_t i = from; i < to; ++i) {
      const ns_t v = log.late[static_cast<std::size_t>(i % ReleaseLog::kSize)];
      s.add(v);
      worst = std::max(worst, v);
    }
    b.p = s.percentiles();
    b.max_us = us(worst);
    bench_support::note_pm_qos(load ? "loaded" : "quiet", engine.stats().pm_qos_held);
    (load ? loaded : quiet).push_back(b);
    return {b.p, {}};
  }
};

struct Results {
  bench_support::PairedRun run{"", ""};
  std::vector<Block> quiet, loaded;
  std::string worker;  // what the periodic worker got from the OS
};
Results& results() {
  static Results r;
  return r;
}

std::string applied(const hal::ThreadApplied& a) {
  std::string s = a.policy == SCHED_FIFO ? bench_support::policy(a.priority) : std::string("SCHED_OTHER");
  s += a.cpu != hal::kNoCpu ? " on CPU " + std::to_string(a.cpu) : std::string(", unpinned");
  return a.degraded() ? s + " (degraded: not what was asked)" : s;
}

void BM_HttpLoadPaired(benchmark::State& state) {
  (void)bench_support::lock_process_memory();
  Results& res = results();
  Rig rig;
  const rt::Stats st = rig.engine.stats();
  if (!st.workers.empty()) res.worker = applied(st.workers[0].applied);
  const std::string offered = null_run()          ? "NULL: client idle"
                              : client_rate() > 0 ? std::to_string(client_rate()) + "/s offered"
                                                  : "unpaced";
  const Contender loaded{"loaded (" + offered + ")", [&rig] { return rig.block(true); }, {}};
  const Contender quiet{"quiet (client idle)", [&rig] { return rig.block(false); }, {}};
  const std::string http = http_cpu() == kHttpAuto
                               ? "server and client off the loop's CPU (" + hal::format_cpu_list(http_cpus()) + ")"
                           : http_cpu() < 0 ? "unpinned"
                                            : "server and client on CPU " + std::to_string(http_cpu());
  res.run = bench_support::PairedRun(
      "Periodic release latency at " + std::to_string(hal::kNsPerSec / period()) + " Hz (worker " +
          bench_support::policy(prio()) + ", CPU " + std::to_string(worker_cpu()) + "), HTTP server (limit " +
          std::to_string(http_rate()) + "/s, burst " + std::to_string(http_burst()) + ", threads " + http +
          ") and client in the same process: start - grid point",
      std::to_string(block_ms()) + " ms (after " + std::to_string(kSettle / hal::kNsPerMs) + " ms settling)");
  res.run.compare(loaded, quiet, "loaded/quiet", {{"issue 17", Stat::P99, 1.1}});
  for (auto _ : state)
    res.run.run(bench_support::pairs(20));
  res.run.set_counters(state);
  res.quiet = rig.quiet;
  res.loaded = rig.loaded;
}
BENCHMARK(BM_HttpLoadPaired)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

// Per block: the latencies and what the client got. Pair i is quiet[i] with loaded[i].
void print_blocks(const Results& res) {
  const double secs = block_ms() / 1000.0;
  std::printf("\nPer block (pair: loaded, quiet); requests per second of block\n");
  std::printf("  %4s %-6s %8s %8s %8s %9s %8s %9s %9s %9s %9s\n", "pair", "block", "releases", "skipped", "p50 us",
              "p99 us", "max us", "req/s", "2xx/s", "429/s", "other/s");
  for (std::size_t i = 0; i < std::min(res.quiet.size(), res.loaded.size()); ++i) {
    for (const Block* b : {&res.loaded[i], &res.quiet[i]}) {
      const Tally& t = b->requests;
      std::printf("  %4zu %-6s %8llu %8llu %8.2f %9.2f %8.2f %9.0f %9.0f %9.0f %9.0f\n", i + 1,
                  b == &res.loaded[i] ? "loaded" : "quiet", static_cast<unsigned long long>(b->releases),
                  static_cast<unsigned long long>(b->skipped), b->p.p50, b->p.p99, b->max_us,
                  static_cast<double>(t.total()) / secs, static_cast<double>(t.ok) / secs,
                  static_cast<double>(t.limited) / secs, static_cast<double>(t.other) / secs);
    }
  }
}

// The max, which PairedRun does not keep, paired as the table's ratios are.
std::vector<double> max_ratios(const Results& res) {
  std::vector<double> r;
  for (std::size_t i = 0; i < std::min(res.quiet.size(), res.loaded.size()); ++i) {
    if (res.quiet[i].max_us > 0) r.push_back(res.loaded[i].max_us / res.quiet[i].max_us);
  }
  return r;
}

void print_max(const Results& res) {
  const std::vector<double> r = max_ratios(res);
  std::printf("  %-46s %5zu  max median %.3f (IQR %.2f-%.2f)\n", "loaded / quiet (per-pair ratio)", r.size(), median(r),
              quantile(r, 0.25), quantile(r, 0.75));
}

void print_summary(const Results& res) {
  const std::size_t n = std::min(res.quiet.size(), res.loaded.size());
  const std::vector<double> max_ratio = max_ratios(res);
  std::vector<double> req, ok, limited, other;
  for (std::size_t i = 0; i < n; ++i) {
    const double secs = block_ms() / 1000.0;
    const Tally& t = res.loaded[i].requests;
    req.push_back(static_cast<double>(t.total()) / secs);
    ok.push_back(static_cast<double>(t.ok) / secs);
    limited.push_back(static_cast<double>(t.limited) / secs);
    other.push_back(static_cast<double>(t.other) / secs);
  }
  const double r99 = res.run.median_ratio(0, Stat::P99);
  std::printf(
      "\nSummary: periodic worker %s; loaded blocks, median per second: %.0f requests, %.0f 2xx, %.0f 429,\n"
      "%.0f other; p99 ratio loaded/quiet %.3f: %s\n",
      res.worker.c_str(), median(req), median(ok), median(limited), median(other), r99,
      n > 0 && r99 <= 1.1 ? "PASS" : "FAIL");
  const std::pair<const char*, double> lines[] = {{"p50_ratio", res.run.median_ratio(0, Stat::P50)},
                                                  {"p99_ratio", r99},
                                                  {"p999_ratio", res.run.median_ratio(0, Stat::P999)},
                                                  {"max_ratio", median(max_ratio)},
                                                  {"loaded_requests_per_s", median(req)},
                                                  {"loaded_2xx_per_s", median(ok)},
                                                  {"loaded_429_per_s", median(limited)},
                                                  {"loaded_other_per_s", median(other)}};
  std::printf("\n");
  for (const auto& [name, v] : lines)
    std::printf("http_%s %.3f\n", name, v);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  const Results& res = results();
  if (res.run.ran()) {
    bench_support::print_conditions(stdout);
    res.run.print(stdout);
    print_max(res);
    print_blocks(res);
    bench_support::PairedRun::print_targets_header(stdout);
    res.run.print_targets(stdout);
    print_summary(res);
  }
  benchmark::Shutdown();
  return 0;
}
