// F15: the circuit breaker's state machine, one 64-bit word changed by CAS:
//
//   bits 0-1   state (BreakerState)
//   bits 2-9   trials admitted in the current half-open round
//   bits 10-63 an instant in microseconds, rounded up: Open: when it opened; HalfOpen: when
//              the round of trials began; Closed: when it closed (only so that a CAS
//              prepared before a whole open/close cycle cannot succeed after it)
//
// Microseconds because 54 bits of them last 570 years of uptime, where 54 bits of ns would
// wrap after 208 days; rounding up makes a cool-down end late by under 1 us, never early.
#include "rt/breaker.hpp"

#include <array>
#include <cstddef>
#include <limits>
#include <stdexcept>

namespace rt {

namespace {

constexpr std::uint64_t kStateMask = 0x3;
constexpr unsigned kTrialsShift = 2;
constexpr std::uint64_t kTrialsMask = 0xFF;
constexpr unsigned kTimeShift = 10;
constexpr std::uint64_t kTimeMax = (std::uint64_t{1} << (64 - kTimeShift)) - 1;
static_assert(CircuitBreaker::kMaxHalfOpenTrials == kTrialsMask);

constexpr ns_t kNever = std::numeric_limits<ns_t>::min();
constexpr ns_t kNsMax = std::numeric_limits<ns_t>::max();

constexpr std::uint64_t pack(BreakerState s, std::uint64_t trials, ns_t now) noexcept {
  std::uint64_t us = 0;
  if (now > 0) us = static_cast<std::uint64_t>(now / hal::kNsPerUs) + (now % hal::kNsPerUs != 0 ? 1 : 0);
  if (us > kTimeMax) us = kTimeMax;
  return (us << kTimeShift) | (trials << kTrialsShift) | static_cast<std::uint64_t>(s);
}
constexpr BreakerState state_of(std::uint64_t w) noexcept { return static_cast<BreakerState>(w & kStateMask); }
constexpr std::uint32_t trials_of(std::uint64_t w) noexcept {
  return static_cast<std::uint32_t>((w >> kTrialsShift) & kTrialsMask);
}
// The word's instant plus `d`, in ns, saturating.
constexpr ns_t time_plus(std::uint64_t w, ns_t d) noexcept {
  ns_t t = 0;
  ns_t r = 0;
  if (__builtin_mul_overflow(static_cast<ns_t>(w >> kTimeShift), hal::kNsPerUs, &t)) return kNsMax;
  return __builtin_add_overflow(t, d, &r) ? kNsMax : r;
}

// Only ever raised, so that a writer preempted across a whole open/close cycle cannot
// put back an older instant than a later transition wrote.
void raise_to(std::atomic<ns_t>& a, ns_t v) noexcept {
  ns_t cur = a.load(std::memory_order_relaxed);
  while (cur < v && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

// Opening and closing must be seen by everyone who reads the word afterwards, together
// with what the transition's author wrote before it (forget_until_).
constexpr auto kCasSuccess = std::memory_order_acq_rel;
constexpr auto kCasFailure = std::memory_order_acquire;

}  // namespace

std::string_view to_string(BreakerState s) noexcept {
  constexpr std::array<std::string_view, 3> kNames = {"closed", "open", "half_open"};
  const auto i = static_cast<std::size_t>(s);
  return i < kNames.size() ? kNames[i] : "unknown";
}

std::string_view to_string(BreakerChange c) noexcept {
  constexpr std::array<std::string_view, 4> kNames = {"none", "opened", "half_opened", "closed"};
  const auto i = static_cast<std::size_t>(c);
  return i < kNames.size() ? kNames[i] : "unknown";
}

CircuitBreaker::CircuitBreaker(const BreakerConfig& c)
    : config_(c), word_(pack(BreakerState::Closed, 0, 0)), forget_until_(kNever) {
  const std::string who = "circuit breaker '" + c.type + "': ";
  if (c.failure_threshold == 0 || c.failure_threshold > kMaxFailureThreshold)
    throw std::invalid_argument(who + "failure_threshold must be 1.." + std::to_string(kMaxFailureThreshold) +
                                " (got " + std::to_string(c.failure_threshold) + ")");
  if (c.window <= 0) throw std::invalid_argument(who + "window must be > 0 ns (got " + std::to_string(c.window) + ")");
  if (c.cool_down < 0)
    throw std::invalid_argument(who + "cool_down must be >= 0 ns (got " + std::to_string(c.cool_down) + ")");
  if (c.half_open_trials == 0 || c.half_open_trials > kMaxHalfOpenTrials)
    throw std::invalid_argument(who + "half_open_trials must be 1.." + std::to_string(kMaxHalfOpenTrials) + " (got " +
                                std::to_string(c.half_open_trials) + ")");
  ring_ = std::make_unique<std::atomic<ns_t>[]>(c.failure_threshold);
  for (std::uint32_t i = 0; i < c.failure_threshold; ++i)
    ring_[i].store(kNever, std::memory_order_relaxed);
}

bool CircuitBreaker::reject() noexcept {
  rejected_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void CircuitBreaker::note_opened(ns_t now) noexcept {
  opened_.fetch_add(1, std::memory_order_relaxed);
  raise_to(opened_at_, now);
}

bool CircuitBreaker::try_admit(ns_t now, BreakerChange* change) noexcept {
  if (change != nullptr) *change = BreakerChange::None;
  std::uint64_t w = word_.load(std::memory_order_acquire);
  for (;;) {
    switch (state_of(w)) {
      case BreakerState::Closed:
        return true;
      case BreakerState::Open:
        if (now < time_plus(w, config_.cool_down)) return reject();
        if (word_.compare_exchange_weak(w, pack(BreakerState::HalfOpen, 1, now), kCasSuccess, kCasFailure)) {
          if (change != nullptr) *change = BreakerChange::HalfOpened;
          return true;
        }
        break;
      case BreakerState::HalfOpen: {
        const std::uint32_t used = trials_of(w);
        std::uint64_t next = 0;
        if (used < config_.half_open_trials) {
          next = w + (std::uint64_t{1} << kTrialsShift);
        } else if (now > time_plus(w, config_.cool_down)) {
          // Every trial is out and none has reported for a whole cool-down: their tasks were
          // cancelled or lost, and without a result the circuit would stay half-open for
          // ever. Start a new round. Strictly after, so that cool_down 0 does not admit
          // without limit at one instant.
          next = pack(BreakerState::HalfOpen, 1, now);
        } else {
          return reject();
        }
        if (word_.compare_exchange_weak(w, next, kCasSuccess, kCasFailure)) return true;
        break;
      }
      default:  // no word ever holds state 3
        return reject();
    }
  }
}

BreakerChange CircuitBreaker::on_success(ns_t now) noexcept {
  successes_.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t w = word_.load(std::memory_order_acquire);
  while (state_of(w) == BreakerState::HalfOpen) {
    // Before the CAS (which releases it), so that whoever sees the circuit closed also
    // sees the old failures forgotten. A closer that then loses the race leaves it raised
    // to its own instant, about the winner's: at worst a failure reported in between is
    // forgotten, never an old one brought back (raise_to).
    raise_to(forget_until_, now);
    if (word_.compare_exchange_weak(w, pack(BreakerState::Closed, 0, now), kCasSuccess, kCasFailure))
      return BreakerChange::Closed;
  }
  return BreakerChange::None;
}

bool CircuitBreaker::threshold_reached(ns_t now) const noexcept {
  ns_t oldest = 0;  // failures after this instant are within the window
  if (__builtin_sub_overflow(now, config_.window, &oldest)) oldest = kNever;
  const ns_t forgotten = forget_until_.load(std::memory_order_seq_cst);
  if (oldest < forgotten) oldest = forgotten;
  std::uint32_t recent = 0;
  for (std::uint32_t i = 0; i < config_.failure_threshold; ++i)
    if (ring_[i].load(std::memory_order_seq_cst) > oldest) ++recent;
  return recent >= config_.failure_threshold;
}

BreakerChange CircuitBreaker::on_failure(ns_t now) noexcept {
  failures_.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t w = word_.load(std::memory_order_acquire);
  for (;;) {
    switch (state_of(w)) {
      case BreakerState::Closed: {
        // Every failure scans the whole ring after writing its own slot (seq_cst both), so
        // of failures racing each other the last to write sees all the others: a scan of
        // only "the slot N-1 failures ago" could read it before its writer stored it and
        // then nobody would open the circuit.
        // Below failure_threshold, a uint32_t: an index on 32-bit targets too.
        const auto slot =
            static_cast<std::size_t>(next_slot_.fetch_add(1, std::memory_order_relaxed) % config_.failure_threshold);
        ring_[slot].store(now, std::memory_order_seq_cst);
        if (!threshold_reached(now)) return BreakerChange::None;
        // Closed only ever becomes Open: if the CAS fails, another failure opened it.
        if (!word_.compare_exchange_strong(w, pack(BreakerState::Open, 0, now), kCasSuccess, kCasFailure))
          return BreakerChange::None;
        note_opened(now);
        return BreakerChange::Opened;
      }
      case BreakerState::HalfOpen:
        // A CAS failure here is a trial admitted, a new round, or a close; look again.
        if (word_.compare_exchange_weak(w, pack(BreakerState::Open, 0, now), kCasSuccess, kCasFailure)) {
          note_opened(now);
          return BreakerChange::Opened;
        }
        break;
      default:  // Open: results of runs admitted before it opened change nothing
        return BreakerChange::None;
    }
  }
}

BreakerState CircuitBreaker::state() const noexcept { return state_of(word_.load(std::memory_order_acquire)); }

BreakerStats CircuitBreaker::stats() const noexcept {
  BreakerStats s;
  s.state = state();
  s.failures = failures_.load(std::memory_order_relaxed);
  s.successes = successes_.load(std::memory_order_relaxed);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  s.opened = opened_.load(std::memory_order_relaxed);
  s.opened_at = opened_at_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace rt
