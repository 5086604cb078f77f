#pragma once
// The release-latency block every loop contender shares (P1, P6): a fresh engine per
// block running one periodic task on Settings::cpu for Settings::block, its release
// latencies (start - grid point) taken from the engine's own histogram.
#include <atomic>

#include "rt/engine.hpp"
#include "rt/periodic.hpp"
#include "rtbench/measure.hpp"

namespace rt::bench {

struct LoopSpec {
  Precision precision = Precision::Sleep;
  ns_t hybrid_margin = 150'000;  // Hybrid: a fixed margin, or kAutoMargin
  bool count_rt_costs = false;   // extras: allocations and minor page faults on RT threads during the block
};

// One block's engine and its loop, in steps, for a block that starts the loop at a chosen
// moment (P1's sleep loop beside cyclictest): built and started with the loop stopped;
// start_loop() starts it (its first release a period later); finish() waits for the
// block's releases, stops the engine and returns the Block. Setup/measurement code.
class EngineLoop {
 public:
  EngineLoop(const Settings& s, const LoopSpec& loop);
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;
  ~EngineLoop() = default;  // ~Engine stops a running engine
  void start_loop();
  // The grid point of the loop's first run (0 when none came in time).
  ns_t await_first_release();
  Block finish();

 private:
  static EngineConfig config(const Settings& s);
  Settings settings_;
  LoopSpec loop_;
  // Before the engine: its task writes them until it stops.
  std::atomic<int> runs_{0};
  std::atomic<ns_t> first_{0};
  Engine engine_;
  int n_;
  int id_ = -1;
  ns_t give_up_ = 0;
};

// Setup: builds, runs and stops an engine. Extras: "spin_share" (the fraction of each
// period the loop spins: hybrid margin / period, 1 for spin), for hybrid loops
// "margin_us" (an auto margin's last choice) and "late_wakes" (wake-ups after the
// release, which the spin could not absorb), with count_rt_costs
// "rt_allocations" (when a counting allocator is linked in) and "rt_page_faults".
Block engine_release_block(const Settings& s, const LoopSpec& loop);

// Releases in one block: the block's time over the period, at least 20.
[[nodiscard]] int releases_per_block(const Settings& s) noexcept;

}  // namespace rt::bench
