#pragma once
// Like with like (issue 14, section 0): what the engine does by default around its RT
// workers -- memory locked, a PM QoS request on /dev/cpu_dma_latency -- the bare
// baselines get too, and cyclictest does by default (-m; its PM QoS unless --laptop), so
// defaults are compared with defaults. Each block notes whether its contender held the
// request, and the header says so per contender.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "hal/cpu.hpp"

namespace bench_support {

// Setup only: mlockall(MCL_CURRENT | MCL_FUTURE) for the whole process before any
// contender runs, so a baseline measured before the engine's first start() (which locks
// the process for good) runs locked too. A refusal is reported once; false then.
bool lock_process_memory();

// The engine's rule (rt::PmQosConfig, on by default): a request whenever it runs a
// SCHED_FIFO worker. A baseline asks for the same when the engine would.
[[nodiscard]] constexpr bool engine_would_hold_pm_qos(int priority) noexcept { return priority > 0; }

// Holds /dev/cpu_dma_latency at `latency_us` while it lives, when `wanted`; notes for
// `contender` whether it did (note_pm_qos). A refusal is reported once.
class PmQosHold {
 public:
  PmQosHold(std::string_view contender, bool wanted, std::int32_t latency_us);
  [[nodiscard]] bool held() const noexcept { return request_.active(); }

 private:
  hal::DmaLatencyRequest request_;
};

// Notes whether `contender` held a PM QoS request in its blocks (the first note counts).
void note_pm_qos(std::string_view contender, bool held);
// Prints the conditions every contender ran under: memory locking, PM QoS per contender,
// and a warning when they differ.
void print_conditions(std::FILE* out);

}  // namespace bench_support
