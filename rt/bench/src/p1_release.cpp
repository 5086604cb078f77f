// P1: periodic release latency of the engine's loop in each precision mode, next to
// cyclictest (the same period, priority and CPU, its main thread on the side CPU, PM QoS
// as the engine's) and the spin mode next to oslat's busy-loop interruptions on the same
// CPU (the floor any spinning loop can reach).
#include <atomic>
#include <exception>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "hal/clock.hpp"
#include "release.hpp"
#include "rtbench/phase.hpp"
#include "rtbench/tools.hpp"

namespace rt::bench {

namespace {

CyclictestSpec cyclictest_spec(const Settings& s) {
  CyclictestSpec spec;
  spec.program = s.cyclictest;
  spec.priority = s.priority;
  spec.cpu = s.cpu;
  spec.main_cpu = s.side_cpu;
  spec.interval_us = static_cast<int>(s.period / hal::kNsPerUs);
  spec.loops = releases_per_block(s);
  spec.pm_qos = wants_pm_qos(s);
  return spec;
}

Block cyclictest_block_of(CyclictestResult r) {
  Block b;
  if (!r.error.empty()) {
    b.error = "cyclictest: " + r.error;
    return b;
  }
  b.latency = std::move(r.latency);
  b.extra.emplace_back("overflows", static_cast<double>(r.overflows));
  return b;
}

Block cyclictest_block(const Settings& s) { return cyclictest_block_of(run_cyclictest(cyclictest_spec(s))); }

// How many of cyclictest's wake-ups the probe takes to find their phase (~25 ms at 1 ms).
constexpr int kProbeWakes = 24;

// cyclictest's phase: where in the period its measuring thread wakes; none, and why not.
std::optional<ns_t> cyclictest_phase(const Settings& s, const std::string& comm, const std::atomic<bool>& done,
                                     std::string& why) {
  const ns_t second = hal::kNsPerSec;
  try {
    const pid_t pid = find_child(comm, 2 * second, &done);
    if (pid == 0) {
      why = "no child process named " + comm;
      return std::nullopt;
    }
    const pid_t tid = find_second_thread(pid, 2 * second, &done);
    if (tid == 0) {
      why = "no measuring thread in cyclictest";
      return std::nullopt;
    }
    const PhaseProbe p = probe_phase(pid, tid, s.period, kProbeWakes, ns_t{4} * kProbeWakes * s.period + second / 10);
    if (p.phase && p.wakes >= kProbeWakes / 2) return p.phase;
    why = p.phase ? "only " + std::to_string(p.wakes) + " of its wake-ups timed" : p.why;
  } catch (const std::exception& e) {  // /proc changing under the reader: not beside, then
    why = e.what();
  }
  return std::nullopt;
}

// The sleep loop and cyclictest in one block: both on the measured CPU at the same
// priority, in the same second, the loop's releases half a period after cyclictest's
// wake-ups (found from its thread's schedstat, phase.hpp), so neither delays the other and
// both see the VM's same fast and slow periods -- which switch every second or so and, in
// separate blocks, moved this ratio's p99 between 0.95 and 1.22 from run to run. The loop
// starts once the phase is known (~30 ms into cyclictest's run) and runs as many releases:
// the two windows overlap but for that. A block too short for that, or a phase not found,
// runs the loop right after cyclictest (adjacent blocks); a loop whose releases still fell
// within a quarter period of cyclictest's, or that ran beside it for less than 80 % of the
// block, counts as not beside it: beside_cyclictest 0.
std::vector<Block> sleep_beside_cyclictest(const Settings& s) {
  EngineLoop loop(s, {.precision = Precision::Sleep});
  const CyclictestSpec spec = cyclictest_spec(s);
  CyclictestResult result;
  std::atomic<bool> done{false};
  std::atomic<ns_t> ended{0};
  // Declared after the loop: joined (cyclictest finished) before the engine stops,
  // whatever throws below.
  std::jthread child([&result, &done, &ended, spec] {
    try {
      result = run_cyclictest(spec);
    } catch (const std::exception& e) {
      result.error = e.what();
    }
    ended = hal::now_ns();
    done = true;
  });
  std::string why;
  ns_t first = 0;
  ns_t offset = -1;
  const int n = releases_per_block(s);
  const std::string comm = std::filesystem::path(spec.program).filename().string().substr(0, 15);
  std::optional<ns_t> phase;
  if (n < 4 * (kProbeWakes + 2)) {
    why = "blocks of " + std::to_string(n) + " releases leave no room for the phase probe";
  } else {
    phase = cyclictest_phase(s, comm, done, why);
  }
  if (phase) {
    // The first release comes a period after the worker takes the start (a futex
    // wake-up, microseconds): started on the grid point half a period after cyclictest's.
    const ns_t now = hal::now_ns();
    const ns_t at = now + phase_offset(*phase + s.period / 2, now, s.period);
    while (hal::now_ns() < at) {
    }
    loop.start_loop();
    if (first = loop.await_first_release(); first == 0) {
      why = "no release came";
    } else if (offset = phase_offset(first, *phase, s.period); offset < s.period / 4 || offset > 3 * s.period / 4) {
      why = "its releases fell " + std::to_string(offset / hal::kNsPerUs) + " us after cyclictest's wake-ups";
    }
  } else {  // after cyclictest, then
    child.join();
    loop.start_loop();
  }
  Block engine = loop.finish();
  if (child.joinable()) child.join();
  // The two ran side by side for most of the block, or it does not count as beside.
  if (why.empty() && first != 0) {
    const double overlap = static_cast<double>(ended.load() - first) / static_cast<double>(ns_t{n} * s.period);
    if (overlap < 0.8) why = "they ran together for " + std::to_string(static_cast<int>(overlap * 100)) + " % of it";
  }
  const bool beside = why.empty();
  Block cyclic = cyclictest_block_of(std::move(result));
  for (Block* b : {&engine, &cyclic})
    b->extra.emplace_back("beside_cyclictest", beside ? 1.0 : 0.0);
  // Where the loop's releases fell after cyclictest's wake-ups: half a period is the aim;
  // within a quarter of one neither waits for the other.
  if (offset >= 0) engine.extra.emplace_back("offset_from_cyclictest_us", static_cast<double>(offset) / 1000.0);
  if (!beside) {
    static std::once_flag said;
    std::call_once(said, [&why] {
      std::cerr << "rtengine bench: P1: the sleep loop did not run beside cyclictest (" << why
                << "); its blocks say beside_cyclictest 0\n";
    });
  }
  std::vector<Block> out;
  out.push_back(std::move(engine));
  out.push_back(std::move(cyclic));
  return out;
}

Block oslat_block(const Settings& s) {
  OslatSpec spec;
  spec.program = s.oslat;
  spec.priority = s.priority;
  spec.cpu = s.cpu;
  spec.main_cpu = s.side_cpu;
  spec.duration = s.block;
  spec.pm_qos = wants_pm_qos(s);
  OslatResult r = run_oslat(spec);
  Block b;
  if (!r.error.empty()) {
    b.error = "oslat: " + r.error;
    return b;
  }
  b.latency = std::move(r.latency);
  return b;
}

}  // namespace

Group p1_release(const Settings& s) {
  Group g;
  g.id = "P1";
  g.title = "Periodic release latency (start - release), period " + std::to_string(s.period / hal::kNsPerUs) + " us";
  auto loop = [](Precision p, ns_t margin) {
    return
        [p, margin](const Settings& st) { return engine_release_block(st, {.precision = p, .hybrid_margin = margin}); };
  };
  const ns_t fixed_margin = 150 * hal::kNsPerUs;
  g.contenders = {
      {"engine_sleep", "engine sleep", Kind::Latency, loop(Precision::Sleep, 0), {}},
      {"cyclictest", "cyclictest", Kind::Latency, cyclictest_block,
       [](const Settings& st) { return program_unavailable(st.cyclictest, "rt-tests"); }},
      {"engine_hybrid_auto", "engine hybrid auto", Kind::Latency, loop(Precision::Hybrid, kAutoMargin), {}},
      {"engine_hybrid", "engine hybrid 150us", Kind::Latency, loop(Precision::Hybrid, fixed_margin), {}},
      {"engine_spin", "engine spin", Kind::Latency, loop(Precision::Spin, 0), {}},
      {"oslat", "oslat", Kind::Latency, oslat_block,
       [](const Settings& st) { return program_unavailable(st.oslat, "rt-tests"); }},
  };
  // In this order every ratio with a target compares neighbours: a repetition runs the
  // list forward or backward, so each pair is measured in adjacent blocks; the sleep loop
  // and cyclictest in one.
  g.joints = {{.ids = {"engine_sleep", "cyclictest"}, .block = sleep_beside_cyclictest}};
  g.ratios = {
      {"engine_sleep", "cyclictest", Stat::P50, 1.1, false, "SPEC P1"},
      {"engine_sleep", "cyclictest", Stat::P99, 1.1, false, "SPEC P1"},
      {"engine_sleep", "cyclictest", Stat::P999, 1.5, false, "SPEC P1"},
      {"engine_hybrid_auto", "cyclictest", Stat::P99, 0.1, false, "SPEC P1"},
      {"engine_hybrid_auto", "cyclictest", Stat::P999, 1.0, false, "SPEC P1"},
      {"engine_hybrid", "cyclictest", Stat::P99, 0, false, "fixed margin"},
      {"engine_hybrid", "cyclictest", Stat::P999, 0, false, "fixed margin"},
      {"engine_spin", "oslat", Stat::P99, 0, false, "floor"},
      {"engine_spin", "oslat", Stat::P999, 0, false, "floor"},
  };
  g.min_reps = 5;
  g.splits_duration = true;
  g.rep_time = [](const Settings& st) {
    // Five blocks (the sleep loop beside cyclictest: one, plus its phase probe), each with
    // an engine start and stop or a program start (~50 ms).
    return 5 * (st.block + 50 * hal::kNsPerMs) + 50 * hal::kNsPerMs;
  };
  g.notes = {
      "engine sleep and cyclictest: one block, both on the measured CPU at the same priority, the loop's releases half "
      "a period after cyclictest's wake-ups (their phase read from its thread's /proc schedstat), so they share the "
      "VM's fast and slow seconds and neither waits for the other (beside_cyclictest 1; offset_from_cyclictest_us: "
      "where the loop's releases fell); the other contenders' ratios read cyclictest's figures from those blocks",
      "cyclictest truncates to 1 us (its bucket k is recorded at k + 0.5 us); oslat reports 1 us buckets; the "
      "engine's histograms report a bucket's top (<= 1/128 above the exact value)",
      "hybrid spins margin / period of each period (spin_share); spin burns its CPU. The auto margin (the "
      "default cap 25 % of the period) follows the p99.9 of the worker's own wake-up lateness plus 20 us; each "
      "block starts a fresh engine, so it starts at the cap and learns within the block. SPEC's hybrid targets "
      "are judged on it; the fixed 150 us margin is shown for comparison",
      "oslat measures the gaps of a busy loop (every iteration a sample), not releases: its figures are the floor "
      "of what a spinning loop can see, the ratios with it are for reading, not targets"};
  return g;
}

}  // namespace rt::bench
