#pragma once
// F13: how a failed attempt (exception, timeout, gate violation) is tried again. A policy
// is a value carried in SubmitOptions; the delay it gives is a re-release through the
// deadline monitor's timer (state RETRYING, then READY), never a sleeping worker.
#include <cstdint>
#include <string_view>

#include "hal/annotations.hpp"
#include "rt/types.hpp"

namespace rt {

enum class RetryStrategy : std::uint8_t {
  None,         // no retry: the first failure is the outcome
  Immediate,    // re-released at once
  Fixed,        // initial_delay every time
  Linear,       // initial_delay * n (the nth retry)
  Exponential,  // initial_delay * multiplier^(n-1)
  Fibonacci,    // initial_delay * fib(n), fib = 1, 1, 2, 3, 5, ...
};
// "none", "immediate", "fixed", "linear", "exponential", "fibonacci"; parse is
// case-insensitive and leaves `out` alone when it returns false.
// RT: wait-free; no allocation.
[[nodiscard]] std::string_view to_string(RetryStrategy s) noexcept HAL_NONBLOCKING;
bool parse_retry_strategy(std::string_view name, RetryStrategy& out) noexcept HAL_NONBLOCKING;

// retry_policy_error's cap on max_retries: enough for any schedule that still means
// something, and it keeps a typo (an extra zero or two) from retrying a task for ever.
inline constexpr std::uint32_t kMaxRetries = 1000;

struct RetryPolicy {
  RetryStrategy strategy = RetryStrategy::None;
  std::uint32_t max_retries = 0;  // attempts = 1 + max_retries at most
  ns_t initial_delay = 0;
  ns_t max_delay = 0;  // every delay is capped here; 0: no cap
  double multiplier = 2.0;
  double jitter = 0.0;  // 0..1: the delay is shortened by up to this fraction, at random

  [[nodiscard]] constexpr bool enabled() const noexcept { return strategy != RetryStrategy::None && max_retries > 0; }
};

// SPEC F13's presets (seed 003), all exponential: retries / initial / max / multiplier.
enum class RetryPreset : std::uint8_t {
  Aggressive,    // 5 / 0.5 s / 30 s / x2.0
  Standard,      // 3 / 1 s / 60 s / x2.0
  Conservative,  // 2 / 2 s / 120 s / x3.0
  Quick,         // 3 / 0.1 s / 5 s / x1.5
};
// Jitter 0 in every preset. RT: wait-free; no allocation.
[[nodiscard]] RetryPolicy retry_preset(RetryPreset p) noexcept HAL_NONBLOCKING;
// "aggressive", "standard", "conservative", "quick"; parse is case-insensitive.
// RT: wait-free; no allocation.
[[nodiscard]] std::string_view to_string(RetryPreset p) noexcept HAL_NONBLOCKING;
bool parse_retry_preset(std::string_view name, RetryPreset& out) noexcept HAL_NONBLOCKING;

// Empty when the policy is usable, else what is wrong with it, naming the field (the
// first problem found, in declaration order; a static string).
// RT: wait-free; no allocation.
[[nodiscard]] std::string_view retry_policy_error(const RetryPolicy& p) noexcept HAL_NONBLOCKING;

// The delay before retry number `n` (1 for the first retry; 0 is taken as 1), without
// jitter; capped at max_delay, saturating at INT64_MAX instead of overflowing, never
// negative. Fixed, Linear and Fibonacci are exact integer products; Exponential is
// computed in double and rounded to the nearest ns.
// RT: wait-free (at most ~93 loop steps); no allocation, no libm.
[[nodiscard]] ns_t retry_delay(const RetryPolicy& p, std::uint32_t n) noexcept HAL_NONBLOCKING;

// `delay` shortened by a random fraction in [0, jitter) drawn from `rng` (xorshift64*
// state; 0 is replaced by a fixed odd seed): the result is in (delay * (1 - jitter), delay]
// for delay > 0. `rng` is advanced on every call, jitter 0 included, so the sequence of
// draws does not depend on which policies asked for jitter. Jitter is clamped to [0, 1]
// (NaN counts as 0); a delay <= 0 is returned as it is.
// RT: wait-free; no allocation.
[[nodiscard]] ns_t jittered(ns_t delay, double jitter, std::uint64_t& rng) noexcept HAL_NONBLOCKING;

}  // namespace rt
