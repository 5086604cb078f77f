// P1: periodic release latency of the engine's loop in each precision mode, next to
// cyclictest (the same period, priority and CPU, its main thread on the side CPU, PM QoS
// as the engine's) and the spin mode next to oslat's busy-loop interruptions on the same
// CPU (the floor any spinning loop can reach).
#include <string>

#include "hal/clock.hpp"
#include "release.hpp"
#include "rtbench/tools.hpp"

namespace rt::bench {

namespace {

Block cyclictest_block(const Settings& s) {
  CyclictestSpec spec;
  spec.program = s.cyclictest;
  spec.priority = s.priority;
  spec.cpu = s.cpu;
  spec.main_cpu = s.side_cpu;
  spec.interval_us = static_cast<int>(s.period / hal::kNsPerUs);
  spec.loops = releases_per_block(s);
  spec.pm_qos = wants_pm_qos(s);
  CyclictestResult r = run_cyclictest(spec);
  Block b;
  if (!r.error.empty()) {
    b.error = "cyclictest: " + r.error;
    return b;
  }
  b.latency = std::move(r.latency);
  b.extra.emplace_back("overflows", static_cast<double>(r.overflows));
  return b;
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
  // list forward or backward, so each pair is measured in adjacent blocks.
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
  g.rep_time = [](const Settings& st) {
    // Six blocks, each with an engine start and stop or a program start (~50 ms).
    return 6 * (st.block + 50 * hal::kNsPerMs);
  };
  g.notes = {
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
