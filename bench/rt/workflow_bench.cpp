// P7: DAG workflows (F18) next to the same work done without the engine, PAIRED
// (support/paired.hpp, issue 14): each comparison measures its contender and its baseline
// in adjacent short blocks, many times, and reports the median over pairs of the per-pair
// ratios of p50, p99 and p99.9; then the targets, then a summary with every figure (also as
// `p7_<name> <value>` lines for scripts).
//
// - Chain: a pipeline of RT_BENCH_CHAIN_NODES nodes re-run on ONE worker, next to the same
//   node bodies called directly in a loop with one atomic decrement each (Taskflow's linear
//   chain: a call plus one atomic per node). A sample is one run, from just before
//   try_run_graph to the last node's end (the last node stamps the clock); per node is
//   that over the nodes.
// - Wide: source -> RT_BENCH_WIDE_NODES nodes -> sink on two workers, next to the same
//   bodies called directly, one atomic decrement each, on one thread.
// - Frame: a 7-node control frame (sense -> 4 x estimate -> control -> actuate) released
//   by add_periodic_graph every RT_BENCH_PERIOD_US on a dedicated periodic worker
//   (classes 0), its nodes on the other worker. A sample is actuate's end minus the
//   release's grid point (the grid's phase is read from PeriodicStats::next_release). The
//   baseline (SPEC P7) is the budget "one periodic release's latency plus 7 hot node
//   handoffs": a plain periodic task's release latency (start - grid point) in the same
//   engine configuration, plus 7 x the p50 of a hot submit -> start handoff from the
//   periodic worker's CPU to the nodes' worker (engine_bench's method), both measured in
//   the budget's block. Twice: with the default idle_spin (the nodes' worker sleeps
//   between frames) and with idle_spin 2 periods (the nodes' worker stays hot from frame to
//   frame; the periodic worker then spins up to each release too -- its baseline likewise).
// Every node body is the same trivial work: one increment of a thread-local counter.
// Every contender runs with the engine's defaults (support/conditions.hpp): memory locked,
// /dev/cpu_dma_latency held when a SCHED_FIFO thread runs.
//
//   build/release/bench/rt_workflow_bench                            all three, then the tables
//   build/release/bench/rt_workflow_bench --benchmark_filter=Frame   the frame only
// Environment: RT_BENCH_PAIRS (default 30 for chain and wide, 20 for the frame;
// RT_BENCH_REPS is its older name), RT_BENCH_RUNS (graph runs per block, default 200),
// RT_BENCH_CHAIN_NODES (default 1000), RT_BENCH_WIDE_NODES (default 1000),
// RT_BENCH_FRAMES (frames per block, default 300), RT_BENCH_PERIOD_US (default 1000),
// RT_BENCH_BLOCK (handoffs per budget block, default 500), RT_BENCH_PRIO (default 80; 0
// keeps SCHED_OTHER), RT_BENCH_CPU_WORKER (default 1: the chain's worker, the direct
// loops, the frame's node worker), RT_BENCH_CPU_PRODUCER (default 0: the chain's driver,
// the frame's periodic worker and drivers, the bench's own thread), RT_BENCH_CPU_MONITOR
// (default RT_BENCH_CPU_PRODUCER; -1 leaves it unpinned, the engine's default). Where the
// monitor sits matters to the frame: with a 1 kHz periodic task that never misses, it
// still wakes ~650 times a second (measured), at grid points (it arms for the coming
// release's deadline, itself a grid point when the deadline is the period). Beside the
// periodic worker it delays releases; beside the nodes' worker, the frame's nodes. By
// default it is beside the periodic worker, so the frame and its baseline's release both
// pay it.
// Smoke run (CI): RT_BENCH_PAIRS=1 RT_BENCH_RUNS=20 RT_BENCH_FRAMES=50 RT_BENCH_BLOCK=50.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "hal/clock.hpp"
#include "hal/thread.hpp"
#include "rt/engine.hpp"
#include "rt/graph.hpp"
#include "support/conditions.hpp"
#include "support/env.hpp"
#include "support/paired.hpp"

namespace {

using bench_support::BlockResult;
using bench_support::Contender;
using bench_support::env_int;
using bench_support::Percentiles;
using bench_support::PmQosHold;
using bench_support::prio;
using bench_support::producer_cpu;
using bench_support::Stat;
using bench_support::worker_cpu;
using hal::ns_t;

int chain_nodes() { return std::max(2, env_int("RT_BENCH_CHAIN_NODES", 1000)); }
int wide_nodes() { return std::max(1, env_int("RT_BENCH_WIDE_NODES", 1000)); }
int runs() { return std::max(10, env_int("RT_BENCH_RUNS", 200)); }
int frames() { return std::max(10, env_int("RT_BENCH_FRAMES", 300)); }
int handoffs() { return std::max(10, env_int("RT_BENCH_BLOCK", 500)); }
int monitor_cpu() { return env_int("RT_BENCH_CPU_MONITOR", producer_cpu()); }
ns_t period() { return std::max(100, env_int("RT_BENCH_PERIOD_US", 1000)) * hal::kNsPerUs; }
// The frame's drivers (start, stop, the handoff's submitter) share the periodic worker's
// CPU and must get it back from that worker when it spins (the hot configuration): one
// above it, as the monitor is.
int driver_prio() { return prio() > 0 ? std::min(prio() + 1, 99) : 0; }

// A driver calls Engine::start() as SCHED_OTHER, then takes driver_prio(): start() waits
// for each new worker with a sched_yield loop, which never lets a lower-priority worker
// pinned to the caller's CPU run (found here: a SCHED_FIFO 81 driver on worker 0's CPU hung
// in start() for minutes). After start() the periodic worker, with nothing due yet, spins
// idle_spin at most and sleeps, so the SCHED_OTHER driver gets its CPU back soon enough.
void start_then_raise(rt::Engine& e) {
  e.start();
  (void)hal::apply_to_current_thread({.name = "bench-driver", .cpu = producer_cpu(), .priority = driver_prio()});
}

// Dropped at the start of every block: fresh threads, cold caches.
constexpr int kWarmupRuns = 10;
constexpr int kWarmupFrames = 20;
constexpr int kWarmupHandoffs = 20;
// Nodes in the control frame, and so the hot handoffs in its budget (SPEC P7).
constexpr int kFrameNodes = 7;
// A run or a handoff not ended after this long is broken, not slow.
constexpr ns_t kStuck = hal::kNsPerSec;
// The hot configuration's idle spin: longer than the period, so the nodes' worker spins
// from one frame to the next; not much longer, so a worker with nothing due sleeps soon
// (see start_then_raise).
ns_t hot_spin() { return 2 * period(); }
const ns_t kDefaultSpin = rt::EngineConfig{}.idle_spin;
// The engine's default PM QoS target, which the baselines hold too.
const std::int32_t kPmQosUs = rt::PmQosConfig{}.latency_us;
bool baseline_pm_qos() { return bench_support::engine_would_hold_pm_qos(prio()); }

// "20 us", "2 ms", "1 s".
std::string duration_label(ns_t ns) {
  if (ns >= hal::kNsPerSec && ns % hal::kNsPerSec == 0) return std::to_string(ns / hal::kNsPerSec) + " s";
  if (ns >= hal::kNsPerMs && ns % hal::kNsPerMs == 0) return std::to_string(ns / hal::kNsPerMs) + " ms";
  return std::to_string(ns / hal::kNsPerUs) + " us";
}

// ---- the node body, the same on both sides ----

// Trivial work the compiler cannot drop, on a line no other thread writes (the wide graph's
// two workers would otherwise bounce a shared counter between them).
thread_local volatile std::uint64_t t_work = 0;
[[gnu::noinline]] void node_body() noexcept { t_work = t_work + 1; }

// Stamped by a run's last node.
struct RunEnd {
  std::atomic<ns_t> at{0};
};

// "body": the node body; "last": the body, then the clock into `end`.
rt::HandlerRegistry run_handlers(RunEnd* end) {
  rt::HandlerRegistry h;
  h.add("body", [] { node_body(); });
  h.add("last", [end] {
    node_body();
    end->at.store(hal::now_ns(), std::memory_order_release);
  });
  return h;
}

rt::GraphSpec chain_spec(int nodes) {
  std::vector<std::pair<std::string, std::string>> stages;
  stages.reserve(static_cast<std::size_t>(nodes));
  for (int i = 0; i < nodes; ++i)
    stages.emplace_back("n" + std::to_string(i), i + 1 == nodes ? "last" : "body");
  return rt::pipeline("chain", stages);
}

rt::GraphSpec wide_spec(int width) {
  rt::GraphBuilder b("wide");
  b.node("source", "body");
  std::vector<std::string> middle;
  for (int i = 0; i < width; ++i) {
    middle.push_back("m" + std::to_string(i));
    b.node(middle.back(), "body", {"source"});
  }
  b.node("sink", "last", middle);
  return b.build();
}

// ---- baseline: the bodies called directly, one atomic decrement each ----

// A join counter per node, one line each as a task-graph runtime's node objects.
struct alignas(hal::kCacheLine) Join {
  std::atomic<std::uint32_t> v{0};
};

// Node j's body through a function pointer (a call, as a runtime makes), then one atomic
// decrement of the join counter of the node it makes ready, `next[j]` (the last one's is
// the run's own). One thread, pinned and prioritised as the engine's worker, its own per
// block; the counters are reset outside the timed loop.
BlockResult direct_block(const std::string& name, const std::vector<std::uint32_t>& next) {
  PmQosHold qos(name, baseline_pm_qos(), kPmQosUs);
  const std::size_t n = next.size();
  std::vector<std::uint32_t> initial(n + 1, 0);
  for (const std::uint32_t j : next)
    ++initial[j];
  std::vector<Join> join(n + 1);
  const std::vector<void (*)() noexcept> body(n, &node_body);
  BlockResult r;
  hal::Thread t({.name = "bench-direct", .cpu = worker_cpu(), .priority = prio()}, [&] {
    bench_support::Samples lat(static_cast<std::size_t>(runs()));
    std::size_t ready = 0;
    for (int i = 0; i < kWarmupRuns + runs(); ++i) {
      for (std::size_t j = 0; j <= n; ++j)
        join[j].v.store(initial[j], std::memory_order_relaxed);
      const ns_t t0 = hal::now_ns();
      for (std::size_t j = 0; j < n; ++j) {
        body[j]();
        ready += join[next[j]].v.fetch_sub(1, std::memory_order_acq_rel) == 1 ? 1 : 0;
      }
      const ns_t t1 = hal::now_ns();
      if (i >= kWarmupRuns) lat.add(t1 - t0);
    }
    r.p = lat.percentiles();
    if (ready == 0) r.error = "no join counter reached zero";  // keeps the decrements' results live
  });
  t.join();
  return r;
}

std::vector<std::uint32_t> chain_next(int nodes) {
  std::vector<std::uint32_t> next(static_cast<std::size_t>(nodes));
  for (std::size_t j = 0; j < next.size(); ++j)
    next[j] = static_cast<std::uint32_t>(j + 1);
  return next;
}

// source (0) -> 1..width -> sink (width + 1); the source's decrement is its first
// dependent's, every middle node's the sink's.
std::vector<std::uint32_t> wide_next(int width) {
  const auto w = static_cast<std::uint32_t>(width);
  std::vector<std::uint32_t> next(w + 2, w + 1);
  next[0] = 1;
  next[w + 1] = w + 2;
  return next;
}

// ---- rtengine: a graph re-run, one run at a time ----

// Runs the graph kWarmupRuns + runs() times back to back; a sample is from just before
// try_run_graph to the last node's stamp. A Busy answer means the previous run's last
// node has stamped but its worker has not closed the run yet: tried again, with a new t0.
BlockResult time_runs(rt::Engine& e, rt::Producer& p, int graph, RunEnd& end) {
  bench_support::Samples lat(static_cast<std::size_t>(runs()));
  for (int i = 0; i < kWarmupRuns + runs(); ++i) {
    end.at.store(0, std::memory_order_relaxed);
    ns_t t0 = 0;
    rt::GraphRunStatus st = rt::GraphRunStatus::Busy;
    const ns_t give_up = hal::now_ns() + kStuck;
    while (st == rt::GraphRunStatus::Busy && hal::now_ns() < give_up) {
      t0 = hal::now_ns();
      st = e.try_run_graph(p, graph);
    }
    if (st != rt::GraphRunStatus::Started) return {{}, "try_run_graph: " + std::string(rt::to_string(st))};
    ns_t t1 = 0;
    std::uint32_t spins = 0;
    while ((t1 = end.at.load(std::memory_order_acquire)) == 0) {
      if (++spins % 4096 == 0 && hal::now_ns() - t0 > kStuck) return {{}, "a run did not end within 1 s"};
    }
    if (i >= kWarmupRuns) lat.add(t1 - t0);
  }
  return {lat.percentiles(), {}};
}

// Built once; started and stopped around each block (Engine::start/stop are restartable),
// so no worker of it spins while its baseline runs.
class GraphContender {
 public:
  GraphContender(std::string name, const rt::EngineConfig& cfg, const rt::GraphSpec& spec, hal::ThreadSpec driver)
      : name_(std::move(name)), engine_(cfg), driver_(std::move(driver)) {
    graph_ = engine_.add_graph(spec, run_handlers(&end_));
  }

  BlockResult block() {
    engine_.start();
    if (!producer_.valid()) producer_ = engine_.make_producer();
    BlockResult r;
    hal::Thread t(driver_, [this, &r] { r = time_runs(engine_, producer_, graph_, end_); });
    t.join();
    bench_support::note_pm_qos(name_, engine_.stats().pm_qos_held);
    (void)engine_.stop(rt::StopMode::Drain);
    return r;
  }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  // The engine's own figure over every run so far (warm-ups included). Allocates.
  [[nodiscard]] rt::GraphStats stats() const { return engine_.graph_stats(graph_); }

 private:
  std::string name_;
  RunEnd end_;
  rt::Engine engine_;
  hal::ThreadSpec driver_;
  rt::Producer producer_;
  int graph_ = -1;
};

rt::EngineConfig chain_config() {
  rt::EngineConfig c;
  c.workers = {rt::WorkerConfig{.cpu = worker_cpu(), .priority = prio(), .classes = rt::kAllClasses}};
  c.monitor.cpu = monitor_cpu();
  return c;
}

rt::EngineConfig wide_config() {
  rt::EngineConfig c;
  c.workers = {rt::WorkerConfig{.cpu = producer_cpu(), .priority = prio(), .classes = rt::kAllClasses},
               rt::WorkerConfig{.cpu = worker_cpu(), .priority = prio(), .classes = rt::kAllClasses}};
  c.monitor.cpu = monitor_cpu();
  return c;
}

// ---- the frame ----

// What actuate (or the plain periodic task) saw, by run: its release as the node sees it
// and its end. Written by one worker, read after the engine stopped.
struct FrameLog {
  explicit FrameLog(std::size_t capacity) : release(capacity), end(capacity) {}
  // RT: wait-free; stores.
  void record(ns_t r, ns_t e) noexcept {
    const std::uint32_t i = done.load(std::memory_order_relaxed);
    if (i < release.size()) {
      release[i] = r;
      end[i] = e;
    }
    done.store(i + 1, std::memory_order_release);
  }
  std::atomic<std::uint32_t> done{0};
  std::vector<ns_t> release, end;
};

// Worker 0: the periodic (loop) worker, no classes; worker 1: the nodes. The monitor and
// the drivers beside worker 0.
rt::EngineConfig frame_config(ns_t idle_spin) {
  rt::EngineConfig c;
  c.workers = {rt::WorkerConfig{.cpu = producer_cpu(), .priority = prio(), .classes = 0},
               rt::WorkerConfig{.cpu = worker_cpu(), .priority = prio(), .classes = rt::kAllClasses}};
  c.idle_spin = idle_spin;
  c.monitor.cpu = monitor_cpu();
  c.max_tasks = 64;
  c.retain_completed = 8;  // the handoff's tasks free their slots as they end
  c.ring_capacity = {64, 64, 64, 64, 64};
  return c;
}

rt::PeriodicSpec loop_spec(const char* name) {
  return {.name = name, .period = period(), .phase = period(), .priority = rt::Priority::Critical, .worker = 0};
}

rt::GraphSpec frame_spec() {
  rt::GraphBuilder b("frame");
  b.node("sense", "body");
  for (const char* e : {"estimate1", "estimate2", "estimate3", "estimate4"})
    b.node(e, "body", {"sense"});
  b.node("control", "body", {"estimate1", "estimate2", "estimate3", "estimate4"});
  b.node("actuate", "actuate", {"control"});
  return b.priority(rt::Priority::Critical).build();
}

// Starts the engine and the periodic task `id`, waits (asleep) for `want` records, reads
// a grid point while it still runs, stops. On a driver thread beside the periodic worker.
// Returns an error, or empty.
std::string run_periodic(rt::Engine& e, int id, const FrameLog& log, const std::string& name, ns_t& grid) {
  std::string error;
  hal::Thread t({.name = "bench-driver", .cpu = producer_cpu()}, [&] {
    const auto want = static_cast<std::uint32_t>(log.release.size());
    start_then_raise(e);
    (void)e.start_periodic(id);
    const ns_t give_up = hal::now_ns() + 3 * static_cast<ns_t>(want) * period() + 10 * hal::kNsPerSec;
    // Asleep for the frames still to come, so the driver rarely wakes beside the loop.
    std::uint32_t d = 0;
    while ((d = log.done.load(std::memory_order_acquire)) < want && hal::now_ns() < give_up)
      std::this_thread::sleep_for(std::chrono::nanoseconds((want - d) * period() + hal::kNsPerMs));
    grid = e.periodic_stats(id).next_release;  // a grid point (0 if it stopped on its own)
    (void)e.stop_periodic(id);
    bench_support::note_pm_qos(name, e.stats().pm_qos_held);
    (void)e.stop(rt::StopMode::Drain);
    if (log.done.load(std::memory_order_acquire) < want)
      error = "only " + std::to_string(log.done.load()) + " of " + std::to_string(want) + " runs within the time";
    else if (grid == 0)
      error = "the periodic task stopped before the end";
  });
  t.join();
  return error;
}

// Per-block side figures, for the summary.
struct FrameSide {
  std::vector<Percentiles> duration, lag;  // run start -> actuate end; grid point -> run start
  std::uint64_t missed = 0;                // grid points between measured frames that started none
  std::uint64_t busy = 0, failed = 0;      // whole blocks (GraphStats): busy releases, runs not completed
};
struct BudgetSide {
  std::vector<Percentiles> release, handoff;
};

// One block of frames in a fresh engine (set up and torn down outside the samples).
BlockResult frame_block(const std::string& name, ns_t idle_spin, FrameSide& side) {
  rt::Engine e(frame_config(idle_spin));
  FrameLog log(static_cast<std::size_t>(kWarmupFrames + frames()));
  rt::HandlerRegistry h;
  h.add("body", [] { node_body(); });
  FrameLog* lp = &log;
  // A node's TaskContext::release() is the run's start (try_run), not the grid point.
  h.add("actuate", [lp](rt::TaskContext& ctx) {
    node_body();
    lp->record(ctx.release(), hal::now_ns());
  });
  const int g = e.add_graph(frame_spec(), h);
  const int loop = e.add_periodic_graph(loop_spec("frame-loop"), g);
  ns_t grid = 0;
  if (std::string err = run_periodic(e, loop, log, name, grid); !err.empty()) return {{}, err};
  const rt::GraphStats gs = e.graph_stats(g);
  side.busy += gs.busy;
  side.failed += gs.failed_runs;
  const ns_t p = period();
  bench_support::Samples e2e(log.release.size()), duration(log.release.size()), lag(log.release.size());
  ns_t previous = 0;
  for (std::size_t i = kWarmupFrames; i < log.release.size(); ++i) {
    // The run started after its grid point: the latest grid point at or before the start.
    const ns_t late = ((log.release[i] - grid) % p + p) % p;
    const ns_t point = log.release[i] - late;
    e2e.add(log.end[i] - point);
    duration.add(log.end[i] - log.release[i]);
    lag.add(late);
    // A release that found the previous run going started none (and left no sample).
    if (previous != 0 && point - previous > p) side.missed += static_cast<std::uint64_t>((point - previous) / p - 1);
    previous = point;
  }
  side.duration.push_back(duration.percentiles());
  side.lag.push_back(lag.percentiles());
  return {e2e.percentiles(), {}};
}

// A plain periodic task's release latency (its start minus the grid point) in the frame's
// engine configuration.
std::string release_latency(const std::string& name, ns_t idle_spin, Percentiles& out) {
  rt::Engine e(frame_config(idle_spin));
  FrameLog log(static_cast<std::size_t>(kWarmupFrames + frames()));
  FrameLog* lp = &log;
  const int id = e.add_periodic(loop_spec("plain"), [lp](rt::TaskContext& ctx) {
    lp->record(ctx.release(), hal::now_ns());
    node_body();
  });
  ns_t grid = 0;
  if (std::string err = run_periodic(e, id, log, name, grid); !err.empty()) return err;
  bench_support::Samples lat(log.release.size());
  for (std::size_t i = kWarmupFrames; i < log.release.size(); ++i)
    lat.add(log.end[i] - log.release[i]);
  out = lat.percentiles();
  return {};
}

// Submit -> start on the nodes' worker kept hot (hot_spin()), from a driver beside the
// periodic worker: engine_bench's hot measurement, in the frame's configuration. One task
// in flight at a time, a 20 us gap between them.
std::string hot_handoff(const std::string& name, Percentiles& out) {
  rt::Engine e(frame_config(hot_spin()));
  std::string error;
  hal::Thread t({.name = "bench-driver", .cpu = producer_cpu()}, [&] {
    start_then_raise(e);
    rt::Producer p = e.make_producer();
    std::atomic<ns_t> started{0};
    std::atomic<ns_t>* sp = &started;
    bench_support::Samples lat(static_cast<std::size_t>(handoffs()));
    for (int i = 0; i < kWarmupHandoffs + handoffs() && error.empty(); ++i) {
      started.store(0, std::memory_order_relaxed);
      const ns_t t0 = hal::now_ns();
      if (p.try_submit([sp] { sp->store(hal::now_ns(), std::memory_order_release); },
                       {.priority = rt::Priority::Critical}) != rt::SubmitStatus::Ok) {
        error = "a handoff was refused";
        break;
      }
      ns_t t1 = 0;
      std::uint32_t spins = 0;
      while ((t1 = started.load(std::memory_order_acquire)) == 0) {
        if (++spins % 4096 == 0 && hal::now_ns() - t0 > kStuck) {
          error = "no start within 1 s of a handoff";
          break;
        }
      }
      if (i >= kWarmupHandoffs && t1 != 0) lat.add(t1 - t0);
      for (const ns_t until = hal::now_ns() + 20 * hal::kNsPerUs; hal::now_ns() < until;) {
      }
    }
    out = lat.percentiles();
    bench_support::note_pm_qos(name, e.stats().pm_qos_held);
    (void)e.stop(rt::StopMode::Drain);
  });
  t.join();
  return error;
}

// The budget: a plain periodic release's latency plus kFrameNodes hot handoffs, each
// percentile of the release plus kFrameNodes x the handoff's p50.
BlockResult budget_block(const std::string& name, ns_t idle_spin, BudgetSide& side) {
  Percentiles rel, hand;
  if (std::string err = release_latency(name, idle_spin, rel); !err.empty()) return {{}, "release: " + err};
  if (std::string err = hot_handoff(name, hand); !err.empty()) return {{}, "handoff: " + err};
  side.release.push_back(rel);
  side.handoff.push_back(hand);
  const double h = kFrameNodes * hand.p50;
  return {{rel.p50 + h, rel.p99 + h, rel.p999 + h}, {}};
}

// ---- the paired schedules and what the summary needs of them ----

// Each contender's block results, kept for the summary (medians over blocks).
// The median over blocks of one percentile.
double med(const std::vector<Percentiles>& v, Stat s) {
  std::vector<double> x;
  x.reserve(v.size());
  for (const auto& p : v)
    x.push_back(bench_support::value(p, s));
  return bench_support::median(x);
}

struct Kept {
  std::vector<Percentiles> blocks;
  [[nodiscard]] double median(Stat s) const { return med(blocks, s); }
  // The worst block's figure: what the medians over blocks leave out.
  [[nodiscard]] double worst(Stat s) const {
    double w = 0;
    for (const auto& p : blocks)
      w = std::max(w, bench_support::value(p, s));
    return w;
  }
};
Contender keeping(std::string name, Kept& kept, std::function<BlockResult()> block) {
  return {std::move(name),
          [&kept, block = std::move(block)] {
            BlockResult r = block();
            if (r.error.empty()) kept.blocks.push_back(r.p);
            return r;
          },
          {}};
}

struct Results {
  bench_support::PairedRun chain{"", ""}, wide{"", ""}, frame{"", ""};
  Kept chain_engine, chain_direct, wide_engine, wide_direct;
  Kept frame_idle, frame_hot, budget_idle, budget_hot;
  FrameSide side_idle, side_hot;
  BudgetSide budget_side_idle, budget_side_hot;
  rt::DurationStats chain_stats, wide_stats;
};
Results& results() {
  static Results r;
  return r;
}

std::string block_label() {
  return std::to_string(runs()) + " runs (after " + std::to_string(kWarmupRuns) + " dropped)";
}

void BM_GraphChainPaired(benchmark::State& state) {
  (void)bench_support::lock_process_memory();
  Results& res = results();
  const int n = chain_nodes();
  GraphContender engine("chain engine (1 worker)", chain_config(), chain_spec(n),
                        {.name = "bench-driver", .cpu = producer_cpu(), .priority = prio()});
  const std::vector<std::uint32_t> next = chain_next(n);
  const Contender contender = keeping(engine.name(), res.chain_engine, [&] { return engine.block(); });
  const Contender direct =
      keeping("chain direct (call + atomic)", res.chain_direct, [&] { return direct_block("chain direct", next); });
  res.chain = bench_support::PairedRun("Chain of " + std::to_string(n) + " nodes on one worker (CPU " +
                                           std::to_string(worker_cpu()) + ", " + bench_support::policy(prio()) +
                                           "): duration of one run, try_run -> last node's end",
                                       block_label());
  res.chain.compare(contender, direct, "chain/direct", {{"SPEC P7", Stat::P50, 2.0}});
  for (auto _ : state)
    res.chain.run(bench_support::pairs(30));
  res.chain.set_counters(state);
  res.chain_stats = engine.stats().duration;
}
BENCHMARK(BM_GraphChainPaired)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

void BM_GraphWidePaired(benchmark::State& state) {
  (void)bench_support::lock_process_memory();
  Results& res = results();
  const int w = wide_nodes();
  // SCHED_OTHER on the bench's CPU (inherited): both CPUs have a SCHED_FIFO worker, so the
  // driver runs when worker 0 sleeps, and each run starts by waking a worker.
  GraphContender engine("wide engine (2 workers)", wide_config(), wide_spec(w), {.name = "bench-driver"});
  const std::vector<std::uint32_t> next = wide_next(w);
  const Contender contender = keeping(engine.name(), res.wide_engine, [&] { return engine.block(); });
  const Contender direct =
      keeping("wide direct (call + atomic)", res.wide_direct, [&] { return direct_block("wide direct", next); });
  res.wide = bench_support::PairedRun("Wide graph source -> " + std::to_string(w) + " -> sink on two workers (CPUs " +
                                          std::to_string(producer_cpu()) + ", " + std::to_string(worker_cpu()) + ", " +
                                          bench_support::policy(prio()) +
                                          "): duration of one run, try_run -> sink's end; direct: one thread",
                                      block_label());
  res.wide.compare(contender, direct, "wide/direct");
  for (auto _ : state)
    res.wide.run(bench_support::pairs(30));
  res.wide.set_counters(state);
  res.wide_stats = engine.stats().duration;
}
BENCHMARK(BM_GraphWidePaired)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

void BM_GraphFramePaired(benchmark::State& state) {
  (void)bench_support::lock_process_memory();
  Results& res = results();
  const std::string idle = "idle_spin " + duration_label(kDefaultSpin);
  const std::string hot = "idle_spin " + duration_label(hot_spin());
  const Contender frame_idle = keeping("frame, " + idle, res.frame_idle,
                                       [&res] { return frame_block("frame, idle", kDefaultSpin, res.side_idle); });
  const Contender budget_idle = keeping("release + 7 handoffs, " + idle, res.budget_idle, [&res] {
    return budget_block("budget, idle", kDefaultSpin, res.budget_side_idle);
  });
  const Contender frame_hot =
      keeping("frame, " + hot, res.frame_hot, [&res] { return frame_block("frame, hot", hot_spin(), res.side_hot); });
  const Contender budget_hot = keeping("release + 7 handoffs, " + hot, res.budget_hot,
                                       [&res] { return budget_block("budget, hot", hot_spin(), res.budget_side_hot); });
  res.frame = bench_support::PairedRun(
      "Control frame of 7 nodes at " + std::to_string(hal::kNsPerSec / period()) + " Hz (periodic worker CPU " +
          std::to_string(producer_cpu()) + ", nodes' worker CPU " + std::to_string(worker_cpu()) + ", " +
          bench_support::policy(prio()) +
          "): grid point -> actuate's end; budget: release latency + 7 x hot handoff p50",
      std::to_string(frames()) + " frames (after " + std::to_string(kWarmupFrames) + " dropped)");
  res.frame.compare(frame_idle, budget_idle, "frame/budget_idle", {{"SPEC P7", Stat::P99, 1.0}});
  res.frame.compare(frame_hot, budget_hot, "frame/budget_hot", {{"SPEC P7", Stat::P99, 1.0}});
  for (auto _ : state)
    res.frame.run(bench_support::pairs(20));
  res.frame.set_counters(state);
}
BENCHMARK(BM_GraphFramePaired)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

// ---- the summary ----

void line(const char* name, double v) { std::printf("p7_%s %.3f\n", name, v); }

// ns per node from a median run duration in us.
double per_node(double run_us, int nodes) { return run_us * 1000.0 / nodes; }

void summary_nodes(const char* key, const bench_support::PairedRun& run, const Kept& engine, const Kept& direct,
                   int nodes, const rt::DurationStats& own, double ratio_limit) {
  const double e = per_node(engine.median(Stat::P50), nodes);
  const double d = per_node(direct.median(Stat::P50), nodes);
  const double r = run.median_ratio(0, Stat::P50);
  const double e99 = per_node(engine.median(Stat::P99), nodes);
  std::printf("  %-6s %5d nodes: engine %8.1f ns/node (p99 run %.1f), direct %6.1f ns/node, ratio %.2f", key, nodes, e,
              e99, d, r);
  if (ratio_limit > 0) std::printf(" (<= %.1f: %s)", ratio_limit, r <= ratio_limit ? "met" : "NOT met");
  std::printf("; <= 1000 ns/node: %s\n", e <= 1000.0 ? "met" : "NOT met");
  if (own.count > 0)
    std::printf("         the engine's own GraphStats over %llu runs: mean %.1f ns/node (started -> last node's end)\n",
                static_cast<unsigned long long>(own.count), own.mean / nodes);
}

void summary_frame(const char* key, const char* label, std::size_t comparison, const Kept& frame, const Kept& budget,
                   const FrameSide& fs, const BudgetSide& bs, std::vector<std::pair<std::string, double>>& lines) {
  const bench_support::PairedRun& run = results().frame;
  const double r99 = run.median_ratio(comparison, Stat::P99);
  const bool pass = !frame.blocks.empty() && r99 > 0 && r99 <= 1.0;
  std::printf("  frame, %s: grid -> actuate end p50 %.2f  p99 %.2f  p99.9 %.2f us (worst block's p99.9 %.2f)\n", label,
              frame.median(Stat::P50), frame.median(Stat::P99), frame.median(Stat::P999), frame.worst(Stat::P999));
  std::printf(
      "         of which grid -> run start p50 %.2f p99 %.2f us; run start -> actuate end p50 %.2f p99 %.2f us\n",
      med(fs.lag, Stat::P50), med(fs.lag, Stat::P99), med(fs.duration, Stat::P50), med(fs.duration, Stat::P99));
  std::printf("         budget p99 %.2f us: plain periodic release p99 %.2f us + 7 x hot handoff p50 %.2f us\n",
              budget.median(Stat::P99), med(bs.release, Stat::P99), med(bs.handoff, Stat::P50));
  std::printf("         frame p99 / budget p99 (paired) %.3f: %s\n", r99, pass ? "PASS" : "FAIL");
  // A release that finds the previous run going starts none, so leaves no sample: counted here.
  std::printf(
      "         grid points with no frame among the measured ones %llu; over whole blocks (warm-up and\n"
      "         stop included): releases finding a run going %llu, runs not completed %llu\n",
      static_cast<unsigned long long>(fs.missed), static_cast<unsigned long long>(fs.busy),
      static_cast<unsigned long long>(fs.failed));
  const std::string k = std::string("frame_") + key + "_";
  lines.emplace_back(k + "p50_us", frame.median(Stat::P50));
  lines.emplace_back(k + "p99_us", frame.median(Stat::P99));
  lines.emplace_back(k + "p999_us", frame.median(Stat::P999));
  lines.emplace_back(k + "p999_worst_block_us", frame.worst(Stat::P999));
  lines.emplace_back(k + "release_p99_us", med(bs.release, Stat::P99));
  lines.emplace_back(k + "handoff_p50_us", med(bs.handoff, Stat::P50));
  lines.emplace_back(k + "budget_p99_us", budget.median(Stat::P99));
  lines.emplace_back(k + "p99_ratio", r99);
  lines.emplace_back(k + "pass", pass ? 1 : 0);
  lines.emplace_back(k + "missed_frames", static_cast<double>(fs.missed));
}

void print_summary() {
  const Results& res = results();
  std::printf("\nSummary (figures: medians over blocks; ratios: medians of per-pair ratios)\n");
  std::vector<std::pair<std::string, double>> lines;
  if (res.chain.ran()) {
    summary_nodes("chain", res.chain, res.chain_engine, res.chain_direct, chain_nodes(), res.chain_stats, 2.0);
    lines.emplace_back("chain_engine_ns_per_node", per_node(res.chain_engine.median(Stat::P50), chain_nodes()));
    lines.emplace_back("chain_direct_ns_per_node", per_node(res.chain_direct.median(Stat::P50), chain_nodes()));
    lines.emplace_back("chain_ratio", res.chain.median_ratio(0, Stat::P50));
    lines.emplace_back("chain_ratio_met", res.chain.median_ratio(0, Stat::P50) <= 2.0 ? 1 : 0);
    lines.emplace_back("chain_under_1us", per_node(res.chain_engine.median(Stat::P50), chain_nodes()) <= 1000 ? 1 : 0);
  }
  const int wide = wide_nodes() + 2;
  if (res.wide.ran()) {
    summary_nodes("wide", res.wide, res.wide_engine, res.wide_direct, wide, res.wide_stats, 0);
    lines.emplace_back("wide_engine_ns_per_node", per_node(res.wide_engine.median(Stat::P50), wide));
    lines.emplace_back("wide_direct_ns_per_node", per_node(res.wide_direct.median(Stat::P50), wide));
    lines.emplace_back("wide_ratio", res.wide.median_ratio(0, Stat::P50));
    lines.emplace_back("wide_under_1us", per_node(res.wide_engine.median(Stat::P50), wide) <= 1000 ? 1 : 0);
  }
  if (res.frame.ran()) {
    summary_frame("idle", ("idle_spin " + duration_label(kDefaultSpin)).c_str(), 0, res.frame_idle, res.budget_idle,
                  res.side_idle, res.budget_side_idle, lines);
    summary_frame("hot", ("idle_spin " + duration_label(hot_spin())).c_str(), 1, res.frame_hot, res.budget_hot,
                  res.side_hot, res.budget_side_hot, lines);
  }
  std::printf("\n");
  for (const auto& [name, v] : lines)
    line(name.c_str(), v);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // The bench's own thread (it spawns, waits and joins) stays off the measured workers' CPU.
  (void)hal::apply_to_current_thread({.name = "bench-main", .cpu = producer_cpu()});
  benchmark::RunSpecifiedBenchmarks();
  Results& res = results();
  if (res.chain.ran() || res.wide.ran() || res.frame.ran()) bench_support::print_conditions(stdout);
  for (const bench_support::PairedRun* run : {&res.chain, &res.wide, &res.frame}) {
    if (run->ran()) run->print(stdout);
  }
  bench_support::PairedRun::print_targets_header(stdout);
  for (const bench_support::PairedRun* run : {&res.chain, &res.wide, &res.frame}) {
    if (run->ran()) run->print_targets(stdout);
  }
  print_summary();
  benchmark::Shutdown();
  return 0;
}
