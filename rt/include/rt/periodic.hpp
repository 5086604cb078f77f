#pragma once
// F9: periodic tasks (control loops). A periodic task lives on one worker, which wakes
// for each release itself -- no handoff between a timer thread and the worker -- at
// absolute times on a fixed grid (first + k * period), so the series never drifts
// whatever each wake-up's lateness.
#include <cstdint>
#include <string>
#include <string_view>

#include "rt/histogram.hpp"
#include "rt/rollback.hpp"
#include "rt/task.hpp"

namespace rt {

// How the worker waits for a release.
enum class Precision : std::uint8_t {
  Sleep,   // block until the release (clock_nanosleep, or a futex wait with an absolute timeout)
  Hybrid,  // block until `hybrid_margin` before the release, then spin on the clock
  Spin,    // spin on the clock (the worker burns its CPU between releases and takes no
           // queued task of a lower class while the task runs)
};
[[nodiscard]] std::string_view to_string(Precision p) noexcept;

// What happens when a run ends after its next release was due.
enum class Overrun : std::uint8_t {
  Skip,             // the releases that passed are skipped (counted); the grid goes on
  CatchUp,          // the releases that passed run at once, back to back; none is lost (one
                    // already past its deadline gets its relative deadline from its start)
  RollbackAndHold,  // the late run is rolled back and the task holds (PAUSED) until resume()
};
[[nodiscard]] std::string_view to_string(Overrun o) noexcept;

// PeriodicSpec::hybrid_margin = kAutoMargin: the worker chooses the margin itself and
// keeps it at the p99.9 of its recent wake-ups' lateness (how late its blocking wait
// returned) plus `hybrid_margin_guard`, never above `hybrid_margin_cap` x period. Until
// it has seen 64 wake-ups it uses the cap; its window is the last 2048..4095 wake-ups, so
// a burst of late wake-ups raises the margin within a few releases and stops counting
// a few seconds (at 1 kHz) after it ends. The p99.9, not the max: the max of a few
// seconds on a VM is a hypervisor stall of milliseconds, which would pin the margin at
// the cap; 1 wake-up in 1000 may still come after the release (PeriodicStats::late_wakes
// counts them), which keeps P1's p99.9 target. PeriodicStats::hybrid_margin says what it
// chose.
inline constexpr ns_t kAutoMargin = -1;

struct PeriodicSpec {
  std::string name = "periodic";
  ns_t period = 1'000'000;                 // 1 kHz
  ns_t phase = 0;                          // the first release is at start + phase
  ns_t deadline = 0;                       // relative to each release, <= period; 0: the period
  Priority priority = Priority::Critical;  // a due release runs before queued tasks of lower classes
  int worker = -1;                         // -1: the first worker serving `priority`
  Precision precision = Precision::Sleep;
  ns_t hybrid_margin = 100'000;  // hybrid: how long before the release the spin starts; or kAutoMargin
  // Auto margin only. The cap: the largest share of the period the spin may take, 0 < cap
  // < 1. 0.25: on our 2-vCPU VMs the auto margin of a 1 kHz loop settled at 60-170 us
  // (p99.9 lateness + guard) and reached 250 us only in noisy seconds; a bigger share
  // would mostly buy spin for hypervisor stalls, which no margin short of spinning covers.
  double hybrid_margin_cap = 0.25;
  // Auto margin only: added to the measured p99.9, 0 <= guard < period. It covers what
  // a window of a few thousand wake-ups underestimates of the tail and the worker's own
  // way from the wake-up to the spin (a few us). 20 us: 2 % CPU at 1 kHz; with it a
  // 1 kHz loop had as few wake-ups after the release as with a fixed 150 us margin
  // (~1 in 1000, 20 s runs alternated on our VM).
  ns_t hybrid_margin_guard = 20'000;
  Overrun overrun = Overrun::Skip;
  TypeId type = 0;
  GateMask gates = 0;  // all must be open at the release and still at the end of the run
  Hook pre = nullptr;
  Hook post = nullptr;
  StateBinding state{};
  Context context{};
};

enum class PeriodicState : std::uint8_t { Stopped, Running, Paused };
[[nodiscard]] std::string_view to_string(PeriodicState s) noexcept;

struct PeriodicStats {
  std::string name;
  PeriodicState state = PeriodicState::Stopped;
  int worker = -1;
  ns_t period = 0;
  std::uint64_t releases = 0;  // grid points that came due while running: runs + skipped
  std::uint64_t runs = 0;
  std::uint64_t skipped = 0;   // dropped by Overrun::Skip, or not started: deadline passed first
  std::uint64_t overruns = 0;  // runs that ended after the next release was due
  std::uint64_t deadline_misses = 0;
  std::uint64_t rollbacks = 0, exceptions = 0, gate_violations = 0;
  HistogramSummary jitter;     // start - release: the release latency (F10)
  HistogramSummary response;   // end - release
  HistogramSummary execution;  // end - start
  ns_t next_release = 0;
  // Hybrid only (0 otherwise). The margin in effect: the fixed one, or the one the worker
  // chose (kAutoMargin); the p99.9 lateness of its recent blocking waits (the auto margin
  // is this plus the guard, capped); and the waits that returned after the release (the
  // margin did not cover them: those releases were as late as a plain sleep's).
  ns_t hybrid_margin = 0;
  ns_t wake_lateness_p999 = 0;
  std::uint64_t late_wakes = 0;
};

}  // namespace rt
