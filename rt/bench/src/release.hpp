#pragma once
// The release-latency block every loop contender shares (P1, P6): a fresh engine per
// block running one periodic task on Settings::cpu for Settings::block, its release
// latencies (start - grid point) taken from the engine's own histogram.
#include "rt/periodic.hpp"
#include "rtbench/measure.hpp"

namespace rt::bench {

struct LoopSpec {
  Precision precision = Precision::Sleep;
  ns_t hybrid_margin = 150'000;  // Hybrid: a fixed margin, or kAutoMargin
  bool count_rt_costs = false;   // extras: allocations and minor page faults on RT threads during the block
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
