// P7's control frame (issue 18: "the 7-node frame latency"): sense -> 4 x estimate ->
// control -> actuate, released by add_periodic_graph every settings.period on a periodic
// worker of its own (classes 0) on the side CPU, its nodes on the measured CPU. A sample
// is actuate's end minus the release's grid point (the grid's phase is read from
// PeriodicStats::next_release).
//
// Its budget (workflow_bench.cpp's): "one periodic release's latency plus 7 hot node
// handoffs" -- a plain periodic task's release latency (start - grid point), plus 7 x the
// median of a hot submit -> start handoff from the periodic worker's CPU to the nodes'
// worker. In the group (frame_and_budget, a Joint) the plain task is released by the
// frame's own periodic worker, half a period after each frame: the frame and the release
// it is judged against alternate in one engine; the handoff is measured after, in an
// engine of the same configuration. Port of bench/rt/workflow_bench.cpp's frame.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "hal/clock.hpp"
#include "hal/thread.hpp"
#include "p7_parts.hpp"
#include "rt/engine.hpp"
#include "rt/graph.hpp"

namespace rt::bench::p7 {
namespace {

constexpr int kWarmupFrames = 20;
constexpr int kWarmupHandoffs = 20;
constexpr int kFrameNodes = 7;

// The drivers (start, stop, the handoff's submitter) share the periodic worker's CPU and
// must get it back from that worker when it spins (the hot configuration): one above it,
// as the monitor is.
int driver_prio(const Settings& s) noexcept { return s.priority > 0 ? std::min(s.priority + 1, 99) : 0; }

// Engine::start() as SCHED_OTHER, then driver_prio(): start() waits for each new worker
// with a sched_yield loop, which never lets a lower-priority worker pinned to the caller's
// CPU run (a SCHED_FIFO 81 driver on worker 0's CPU hung in start() for minutes).
void start_then_raise(const Settings& s, Engine& e) {
  e.start();
  (void)hal::apply_to_current_thread({.name = "bench-driver", .cpu = s.side_cpu, .priority = driver_prio(s)});
}

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
// the drivers beside worker 0. Kept hot (`idle_spin` > 0), only the nodes' worker spins:
// with the periodic worker spinning too, both CPUs ran SCHED_FIFO without a pause and the
// scheduler's fair-task server took the side CPU from it for up to 50 ms a second (P7
// kept hot: max 49 ms, 96 grid points with no frame, 934 releases finding a run going).
EngineConfig frame_config(const Settings& s, ns_t idle_spin) {
  EngineConfig c;
  c.workers = {WorkerConfig{.cpu = s.side_cpu, .priority = s.priority, .classes = 0},
               WorkerConfig{.cpu = s.cpu, .priority = s.priority, .classes = kAllClasses}};
  if (idle_spin > 0) c.workers[1].idle_spin = idle_spin;
  c.monitor.cpu = s.side_cpu;
  c.pm_qos.enabled = s.pm_qos;
  c.max_tasks = 64;
  c.retain_completed = 8;  // the handoff's tasks free their slots as they end
  c.ring_capacity = {64, 64, 64, 64, 64};
  return c;
}

PeriodicSpec loop_spec(const Settings& s, const char* name) {
  return {.name = name, .period = s.period, .phase = s.period, .priority = Priority::Critical, .worker = 0};
}

GraphSpec frame_spec() {
  GraphBuilder b("frame");
  b.node("sense", "body");
  for (const char* e : {"estimate1", "estimate2", "estimate3", "estimate4"})
    b.node(e, "body", {"sense"});
  b.node("control", "body", {"estimate1", "estimate2", "estimate3", "estimate4"});
  b.node("actuate", "actuate", {"control"});
  return b.priority(Priority::Critical).build();
}

// Frames per block: 4 x --samples. A kept-hot frame's p99 is a few microseconds, so the
// VM's rare preemptions decide it: over 500 frames (its 5th highest) the per-repetition
// ratio ranged 0.7-3.2.
std::size_t frames(const Settings& s) { return static_cast<std::size_t>(kWarmupFrames + 4 * std::max(10, s.samples)); }

// Starts the periodic tasks `ids` and then the engine, waits (asleep) for each one's log to
// fill, reads a grid point of each while they still run, stops. On a driver thread beside
// the periodic worker. Started before the engine, the tasks' grids begin in the worker's
// first pass, at one `now`: their phases are then exactly what their specs say. One error
// per task, empty when its log filled.
std::vector<std::string> run_periodic(const Settings& s, Engine& e, const std::vector<int>& ids,
                                      const std::vector<const FrameLog*>& logs, std::vector<ns_t>& grids) {
  std::vector<std::string> errors(ids.size());
  grids.assign(ids.size(), 0);
  hal::Thread t({.name = "bench-driver", .cpu = s.side_cpu}, [&] {
    for (const int id : ids)
      (void)e.start_periodic(id);
    start_then_raise(s, e);
    auto left = [&logs] {
      std::uint32_t most = 0;
      for (const FrameLog* log : logs) {
        const auto want = static_cast<std::uint32_t>(log->release.size());
        most = std::max(most, want - std::min(want, log->done.load(std::memory_order_acquire)));
      }
      return most;
    };
    const auto want = static_cast<std::uint32_t>(logs.front()->release.size());
    const ns_t give_up = hal::now_ns() + 3 * static_cast<ns_t>(want) * s.period + 10 * hal::kNsPerSec;
    for (std::uint32_t n = 0; (n = left()) > 0 && hal::now_ns() < give_up;)
      std::this_thread::sleep_for(std::chrono::nanoseconds(n * s.period + hal::kNsPerMs));
    for (std::size_t i = 0; i < ids.size(); ++i)
      grids[i] = e.periodic_stats(ids[i]).next_release;  // a grid point (0 if it stopped on its own)
    for (const int id : ids)
      (void)e.stop_periodic(id);
    (void)e.stop(StopMode::Drain);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const std::string name = "periodic task '" + e.periodic_stats(ids[i]).name + "': ";
      const std::uint32_t done = logs[i]->done.load(std::memory_order_acquire);
      if (done < logs[i]->release.size())
        errors[i] = name + "only " + std::to_string(done) + " of " + std::to_string(logs[i]->release.size()) +
                    " runs within the time";
      else if (grids[i] == 0)
        errors[i] = name + "stopped before the end";
    }
  });
  t.join();
  return errors;
}

// Submit -> start on the nodes' worker kept hot, from a driver beside the periodic
// worker; one task in flight at a time, a 20 us gap between them. The median, in ns.
std::string hot_handoff(const Settings& s, ns_t& median) {
  Engine e(frame_config(s, hot_spin(s)));
  std::string error;
  std::vector<ns_t> lat;
  hal::Thread t({.name = "bench-driver", .cpu = s.side_cpu}, [&] {
    start_then_raise(s, e);
    Producer p = e.make_producer();
    std::atomic<ns_t> started{0};
    std::atomic<ns_t>* sp = &started;
    const int n = std::max(10, s.samples);
    lat.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < kWarmupHandoffs + n && error.empty(); ++i) {
      started.store(0, std::memory_order_relaxed);
      const ns_t t0 = hal::now_ns();
      if (p.try_submit([sp] { sp->store(hal::now_ns(), std::memory_order_release); },
                       {.priority = Priority::Critical}) != SubmitStatus::Ok) {
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
      if (i >= kWarmupHandoffs && t1 != 0) lat.push_back(t1 - t0);
      for (const ns_t until = hal::now_ns() + 20 * hal::kNsPerUs; hal::now_ns() < until;) {
      }
    }
    (void)e.stop(StopMode::Drain);
  });
  t.join();
  if (error.empty() && lat.empty()) error = "no handoff measured";
  if (!error.empty()) return error;
  std::sort(lat.begin(), lat.end());
  median = lat[lat.size() / 2];
  return {};
}

}  // namespace

namespace {

// The frame's graph and its periodic release in `e`; actuate logs each run in `log`.
// Returns {graph, loop}.
std::pair<int, int> add_frame(const Settings& s, Engine& e, FrameLog& log) {
  HandlerRegistry h;
  h.add("body", [] { node_body(); });
  FrameLog* lp = &log;
  // A node's TaskContext::release() is the run's start (try_run), not the grid point.
  h.add("actuate", [lp](TaskContext& ctx) {
    node_body();
    lp->record(ctx.release(), hal::now_ns());
  });
  const int g = e.add_graph(frame_spec(), h);
  return {g, e.add_periodic_graph(loop_spec(s, "frame-loop"), g)};
}

// The plain periodic task of the budget in `e`, `phase` after the start; it logs its
// release and start in `log`.
int add_plain(const Settings& s, Engine& e, FrameLog& log, ns_t phase) {
  FrameLog* lp = &log;
  PeriodicSpec spec = loop_spec(s, "plain");
  spec.phase = phase;
  return e.add_periodic(spec, [lp](TaskContext& ctx) {
    lp->record(ctx.release(), hal::now_ns());
    node_body();
  });
}

// The frame's Block from its log, the grid point read while it ran and its engine's stats.
Block frame_result(const Settings& s, const Engine& e, int g, int loop, const FrameLog& log, ns_t grid) {
  const GraphStats gs = e.graph_stats(g);
  const PeriodicStats ps = e.periodic_stats(loop);
  // The nodes' worker wakes ahead of each release (its feed lead) and waits for the start.
  double lead_us = 0, met = 0;
  for (const WorkerStats& w : e.stats().workers) {
    lead_us = std::max(lead_us, static_cast<double>(w.feed_lead) / 1000.0);
    met += static_cast<double>(w.feeds_met);
  }
  const ns_t p = s.period;
  std::vector<ns_t> e2e, duration;
  double missed = 0;
  ns_t previous = 0;
  for (std::size_t i = kWarmupFrames; i < log.release.size(); ++i) {
    // The run started after its grid point: the latest grid point at or before the start.
    const ns_t late = ((log.release[i] - grid) % p + p) % p;
    const ns_t point = log.release[i] - late;
    e2e.push_back(log.end[i] - point);
    duration.push_back(log.end[i] - log.release[i]);
    // A release that found the previous run going started none (and left no sample).
    if (previous != 0 && point - previous > p) {
      const ns_t whole_periods = (point - previous) / p;  // whole grid points in between: truncation meant
      missed += static_cast<double>(whole_periods - 1);
    }
    previous = point;
  }
  Block b;
  b.latency = snapshot_of(e2e);
  const HistogramSnapshot d = snapshot_of(duration);
  b.extra = {{"run start -> actuate end p50 ns", static_cast<double>(d.percentile(50))},
             {"run start -> actuate end p99 ns", static_cast<double>(d.percentile(99))},
             {"grid points with no frame", missed},
             {"releases finding a run going", static_cast<double>(gs.busy)},
             {"runs not completed", static_cast<double>(gs.failed_runs)},
             {"feed lead us", lead_us},
             {"releases met awake", met / std::max(1.0, static_cast<double>(gs.runs))},
             {"loop release p50 ns", static_cast<double>(ps.jitter.p50)},
             {"loop release p99 ns", static_cast<double>(ps.jitter.p99)}};
  return b;
}

// The budget's Block: each release latency (start - grid point) plus kFrameNodes x `hand`.
Block budget_result(const FrameLog& log, ns_t hand) {
  std::vector<ns_t> release, budget;
  for (std::size_t i = kWarmupFrames; i < log.release.size(); ++i) {
    release.push_back(log.end[i] - log.release[i]);
    budget.push_back(release.back() + kFrameNodes * hand);
  }
  Block b;
  b.latency = snapshot_of(budget);
  const HistogramSnapshot r = snapshot_of(release);
  b.extra = {{"release p99 ns", static_cast<double>(r.percentile(99))},
             {"hot handoff p50 ns", static_cast<double>(hand)}};
  return b;
}

}  // namespace

// One block of frames in a fresh engine (set up and torn down outside the samples).
Block frame_block(const Settings& s, ns_t idle_spin) {
  Engine e(frame_config(s, idle_spin));
  FrameLog log(frames(s));
  const auto [g, loop] = add_frame(s, e, log);
  std::vector<ns_t> grid;
  if (const auto err = run_periodic(s, e, {loop}, {&log}, grid); !err[0].empty()) return failed(err[0]);
  return frame_result(s, e, g, loop, log, grid[0]);
}

// A plain periodic task's release latency (start - grid point) in the frame's engine
// configuration, each percentile plus kFrameNodes x the hot handoff's median.
Block budget_block(const Settings& s, ns_t idle_spin) {
  Engine e(frame_config(s, idle_spin));
  FrameLog log(frames(s));
  const int id = add_plain(s, e, log, s.period);
  std::vector<ns_t> grid;
  if (const auto err = run_periodic(s, e, {id}, {&log}, grid); !err[0].empty()) return failed("release: " + err[0]);
  ns_t hand = 0;
  if (std::string err = hot_handoff(s, hand); !err.empty()) return failed("handoff: " + err);
  return budget_result(log, hand);
}

std::vector<Block> frame_and_budget(const Settings& s, ns_t idle_spin) {
  Engine e(frame_config(s, idle_spin));
  FrameLog frame_log(frames(s)), plain_log(frames(s));
  const auto [g, loop] = add_frame(s, e, frame_log);
  // Half a period after the frame's releases: the periodic worker is free again (a frame's
  // release takes microseconds), and the nodes' worker is not woken by it (classes 0).
  const int plain = add_plain(s, e, plain_log, s.period + s.period / 2);
  std::vector<ns_t> grids;
  const std::vector<std::string> err = run_periodic(s, e, {loop, plain}, {&frame_log, &plain_log}, grids);
  Block frame = err[0].empty() ? frame_result(s, e, g, loop, frame_log, grids[0]) : failed(err[0]);
  if (!err[1].empty()) return {std::move(frame), failed("release: " + err[1])};
  ns_t hand = 0;
  if (std::string why = hot_handoff(s, hand); !why.empty()) return {std::move(frame), failed("handoff: " + why)};
  Block budget = budget_result(plain_log, hand);
  // Where the plain task's grid sits in the frame's period (half of it, by construction).
  const ns_t p = s.period;
  budget.extra.emplace_back("plain release offset ns", static_cast<double>(((grids[1] - grids[0]) % p + p) % p));
  return {std::move(frame), std::move(budget)};
}

}  // namespace rt::bench::p7
