#pragma once
// F15: a circuit breaker per task type. After failure_threshold failures within `window`
// the type's submissions are refused for `cool_down`; then a few trial runs decide whether
// it closes again. A pure unit: every call takes `now` (CLOCK_MONOTONIC ns) from the
// caller, so one clock read serves the engine's other bookkeeping and tests walk time by
// hand. Submitters and workers call it concurrently from RT threads.
//
// Results are not tied to admissions: a result that arrives while half-open counts as the
// trial's even when it comes from a run admitted before the circuit opened.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "hal/annotations.hpp"
#include "hal/clock.hpp"
#include "rt/types.hpp"

namespace rt {

struct BreakerConfig {
  std::string type;                     // the task type it guards (the engine maps it to a TypeId)
  std::uint32_t failure_threshold = 5;  // N failures...
  ns_t window = 10 * hal::kNsPerSec;    // ...less than this apart (oldest to newest) open the circuit
  ns_t cool_down = 5 * hal::kNsPerSec;  // open this long, then half-open
  std::uint32_t half_open_trials = 1;   // admissions while half-open, until one succeeds or fails
};

enum class BreakerState : std::uint8_t { Closed, Open, HalfOpen };
// "closed", "open", "half_open". RT: wait-free; no allocation.
[[nodiscard]] std::string_view to_string(BreakerState s) noexcept HAL_NONBLOCKING;

// What a call caused; exactly one caller is told of each transition (the engine publishes
// the event from it).
enum class BreakerChange : std::uint8_t { None, Opened, HalfOpened, Closed };
// "none", "opened", "half_opened", "closed". RT: wait-free; no allocation.
[[nodiscard]] std::string_view to_string(BreakerChange c) noexcept HAL_NONBLOCKING;

// Each field is exact on its own; together they are not one snapshot.
struct BreakerStats {
  BreakerState state = BreakerState::Closed;
  std::uint64_t failures = 0;   // every on_failure, in any state
  std::uint64_t successes = 0;  // every on_success, in any state
  std::uint64_t rejected = 0;   // try_admit calls that returned false
  std::uint64_t opened = 0;     // times the circuit opened
  ns_t opened_at = 0;           // the `now` of the latest opening; 0 if never
};

// Padded on purpose: the word every submitter reads and the counters every result
// writes stand on separate cache lines.
class CircuitBreaker {  // NOLINT(clang-analyzer-optin.performance.Padding)
 public:
  // The failure-history scan is O(failure_threshold) per failure, hence a cap; trials in
  // use take 8 bits of the state word (breaker.cpp).
  static constexpr std::uint32_t kMaxFailureThreshold = 1024;
  static constexpr std::uint32_t kMaxHalfOpenTrials = 255;

  // Setup only: allocates the failure-time ring; throws std::invalid_argument naming the
  // field (failure_threshold 0 or above kMaxFailureThreshold, window <= 0, cool_down < 0,
  // half_open_trials 0 or above kMaxHalfOpenTrials).
  explicit CircuitBreaker(const BreakerConfig& c);
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // May a task of this type be submitted now? Closed: true. Open: false (counted as
  // rejected) until cool_down has passed since it opened; then the first caller moves it
  // to HalfOpen (*change = HalfOpened) and is admitted as its first trial. HalfOpen: at
  // most half_open_trials admissions until a result arrives; if all are out and none has
  // reported for cool_down (their tasks were cancelled or lost), a new round of trials is
  // admitted rather than staying half-open for ever. Cool-downs are kept to the
  // microsecond: one ends never early and at most 1 us late. `now` >= 0 (CLOCK_MONOTONIC).
  // `change`, when given, is always set.
  // RT: wait-free when closed (one load); lock-free otherwise (CAS); no allocation.
  [[nodiscard]] bool try_admit(ns_t now, BreakerChange* change = nullptr) noexcept HAL_NONBLOCKING;

  // Results of admitted runs. Closed: a failure is recorded, and the failure_threshold-th
  // within `window` opens the circuit (Opened); successes change nothing and do not reset
  // the count: the circuit watches the failure rate, not runs of failures. HalfOpen: a
  // success closes it (Closed; every failure reported at or before `now` is forgotten), a
  // failure opens it again (Opened, a new cool-down from `now`). Open: counted only.
  // RT: lock-free (CAS; a failure in Closed also scans the ring); no allocation.
  BreakerChange on_success(ns_t now) noexcept HAL_NONBLOCKING;
  BreakerChange on_failure(ns_t now) noexcept HAL_NONBLOCKING;

  // Open stays Open here after cool_down until a try_admit moves it on.
  // RT: wait-free; no allocation.
  [[nodiscard]] BreakerState state() const noexcept HAL_NONBLOCKING;
  // RT: wait-free; no allocation.
  [[nodiscard]] BreakerStats stats() const noexcept HAL_NONBLOCKING;
  [[nodiscard]] const BreakerConfig& config() const noexcept { return config_; }

 private:
  [[nodiscard]] bool reject() noexcept HAL_NONBLOCKING;
  [[nodiscard]] bool threshold_reached(ns_t now) const noexcept HAL_NONBLOCKING;
  void note_opened(ns_t now) noexcept HAL_NONBLOCKING;

  BreakerConfig config_;
  // failure_threshold slots of the latest failure times (Closed only), INT64_MIN when empty.
  std::unique_ptr<std::atomic<ns_t>[]> ring_;

  // State, trials in use and an instant in one word, so a transition is a single CAS and
  // no caller can see half of one (layout in breaker.cpp). Own cache line: every
  // submitter reads it, and the counters below are written on every result.
  alignas(hal::kCacheLine) std::atomic<std::uint64_t> word_;
  // Failures at or before this instant are history (raised when the circuit closes).
  std::atomic<ns_t> forget_until_;

  alignas(hal::kCacheLine) std::atomic<std::uint64_t> next_slot_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<std::uint64_t> successes_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> opened_{0};
  std::atomic<ns_t> opened_at_{0};

  static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "transitions must not fall back to a lock");
  static_assert(std::atomic<ns_t>::is_always_lock_free, "the failure ring must not fall back to a lock");
};

}  // namespace rt
