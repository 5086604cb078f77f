// F13: retry schedules. Everything here runs on the submit and the failure paths, so no
// allocation and no libm: the exponential factor is taken by repeated squaring, which
// gives the same bits on every target (x86_64 SSE, aarch64, armhf VFP) where libm's pow
// may differ in the last ulp between C libraries.
#include "rt/retry.hpp"

#include <array>
#include <cstddef>
#include <limits>

namespace rt {

namespace {

constexpr ns_t kNsMax = std::numeric_limits<ns_t>::max();
// 2^63, the first double above every ns_t: a product at or above it saturates.
constexpr double kNsMaxAsDouble = 9223372036854775808.0;

constexpr std::array<std::string_view, 6> kStrategyNames = {"none",   "immediate",   "fixed",
                                                            "linear", "exponential", "fibonacci"};
constexpr std::array<std::string_view, 4> kPresetNames = {"aggressive", "standard", "conservative", "quick"};
static_assert(kStrategyNames.size() == static_cast<std::size_t>(RetryStrategy::Fibonacci) + 1);
static_assert(kPresetNames.size() == static_cast<std::size_t>(RetryPreset::Quick) + 1);

constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// ASCII only: a locale-aware tolower could consult the global locale (a lock in glibc).
constexpr bool equals_lower(std::string_view name, std::string_view lower) noexcept {
  if (name.size() != lower.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (ascii_lower(name[i]) != lower[i]) return false;
  return true;
}

template <class E, std::size_t N>
bool parse_in(const std::array<std::string_view, N>& names, std::string_view name, E& out) noexcept {
  for (std::size_t i = 0; i < N; ++i) {
    if (equals_lower(name, names[i])) {
      out = static_cast<E>(i);
      return true;
    }
  }
  return false;
}

template <class E, std::size_t N>
std::string_view name_in(const std::array<std::string_view, N>& names, E e) noexcept {
  const auto i = static_cast<std::size_t>(e);
  return i < N ? names[i] : "unknown";
}

ns_t mul_saturating(ns_t a, ns_t b) noexcept {
  ns_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? kNsMax : r;
}

// fib(n) (fib(1) = fib(2) = 1), or kNsMax once it passes what an ns_t holds: fib(92) is
// the last that fits, so the loop is bounded whatever n is.
ns_t fibonacci_saturating(std::uint32_t n) noexcept {
  ns_t prev = 0;
  ns_t cur = 1;
  for (std::uint32_t i = 1; i < n; ++i) {
    ns_t next = 0;
    if (__builtin_add_overflow(prev, cur, &next)) return kNsMax;
    prev = cur;
    cur = next;
  }
  return cur;
}

// base^e by squaring: at most 32 steps for a 32-bit exponent. An infinite or NaN result
// is left to the caller's range check.
double power(double base, std::uint32_t e) noexcept {
  double result = 1.0;
  while (e != 0) {
    if ((e & 1U) != 0) result *= base;
    e >>= 1U;
    if (e != 0) base *= base;
  }
  return result;
}

// Rounds to the nearest ns and saturates; NaN and negative values become 0 (only a policy
// retry_policy_error rejects can produce them).
ns_t ns_from_double(double d) noexcept {
  if (!(d > 0.0)) return 0;
  if (d >= kNsMaxAsDouble) return kNsMax;
  const double rounded = d + 0.5;
  return rounded >= kNsMaxAsDouble ? kNsMax : static_cast<ns_t>(rounded);
}

}  // namespace

std::string_view to_string(RetryStrategy s) noexcept { return name_in(kStrategyNames, s); }

bool parse_retry_strategy(std::string_view name, RetryStrategy& out) noexcept {
  return parse_in(kStrategyNames, name, out);
}

std::string_view to_string(RetryPreset p) noexcept { return name_in(kPresetNames, p); }

bool parse_retry_preset(std::string_view name, RetryPreset& out) noexcept { return parse_in(kPresetNames, name, out); }

RetryPolicy retry_preset(RetryPreset p) noexcept {
  constexpr ns_t kMs = hal::kNsPerMs;
  constexpr ns_t kSec = hal::kNsPerSec;
  RetryPolicy r;
  r.strategy = RetryStrategy::Exponential;
  r.jitter = 0.0;
  switch (p) {
    case RetryPreset::Aggressive:
      r.max_retries = 5;
      r.initial_delay = 500 * kMs;
      r.max_delay = 30 * kSec;
      r.multiplier = 2.0;
      break;
    case RetryPreset::Standard:
      r.max_retries = 3;
      r.initial_delay = 1 * kSec;
      r.max_delay = 60 * kSec;
      r.multiplier = 2.0;
      break;
    case RetryPreset::Conservative:
      r.max_retries = 2;
      r.initial_delay = 2 * kSec;
      r.max_delay = 120 * kSec;
      r.multiplier = 3.0;
      break;
    case RetryPreset::Quick:
      r.max_retries = 3;
      r.initial_delay = 100 * kMs;
      r.max_delay = 5 * kSec;
      r.multiplier = 1.5;
      break;
  }
  return r;
}

std::string_view retry_policy_error(const RetryPolicy& p) noexcept {
  if (static_cast<std::size_t>(p.strategy) >= kStrategyNames.size()) return "strategy is not a known RetryStrategy";
  if (p.max_retries > kMaxRetries) return "max_retries is above the cap of 1000";
  if (p.initial_delay < 0) return "initial_delay is negative";
  if (p.max_delay < 0) return "max_delay is negative";
  // Written so that NaN fails too; infinity is refused because every delay past the
  // first would saturate, which is max_delay's job.
  if (!(p.multiplier >= 1.0 && p.multiplier <= std::numeric_limits<double>::max()))
    return "multiplier must be a finite number >= 1";
  if (!(p.jitter >= 0.0 && p.jitter <= 1.0)) return "jitter must be in [0, 1]";
  if (p.max_delay != 0 && p.max_delay < p.initial_delay) return "max_delay is below initial_delay (0 means no cap)";
  if (p.strategy != RetryStrategy::None && p.strategy != RetryStrategy::Immediate && p.initial_delay == 0)
    return "initial_delay is 0 for a strategy that waits (use immediate)";
  return {};
}

ns_t retry_delay(const RetryPolicy& p, std::uint32_t n) noexcept {
  if (p.strategy == RetryStrategy::None || p.strategy == RetryStrategy::Immediate) return 0;
  // Products of positive operands only below, so "overflowed" always means "too large".
  if (p.initial_delay <= 0) return 0;
  if (n == 0) n = 1;
  ns_t d = 0;
  switch (p.strategy) {
    case RetryStrategy::Fixed:
      d = p.initial_delay;
      break;
    case RetryStrategy::Linear:
      d = mul_saturating(p.initial_delay, static_cast<ns_t>(n));
      break;
    case RetryStrategy::Exponential:
      d = ns_from_double(static_cast<double>(p.initial_delay) * power(p.multiplier, n - 1));
      break;
    case RetryStrategy::Fibonacci:
      d = mul_saturating(p.initial_delay, fibonacci_saturating(n));
      break;
    default:  // None and Immediate returned above; anything else is not a strategy
      return 0;
  }
  if (p.max_delay > 0 && d > p.max_delay) d = p.max_delay;
  return d;
}

ns_t jittered(ns_t delay, double jitter, std::uint64_t& rng) noexcept {
  // xorshift64* (Vigna, "An experimental exploration of Marsaglia's xorshift generators",
  // 2016): shifts 12/25/27 and this multiplier; 0 is its one fixed point, hence the reseed.
  constexpr std::uint64_t kSeed = 0x9E3779B97F4A7C15ULL;  // odd, and 2^64 / golden ratio
  std::uint64_t x = rng != 0 ? rng : kSeed;
  x ^= x >> 12U;
  x ^= x << 25U;
  x ^= x >> 27U;
  rng = x;
  const std::uint64_t out = x * 0x2545F4914F6CDD1DULL;
  const double u = static_cast<double>(out >> 11U) * 0x1.0p-53;  // [0, 1): the top 53 bits

  if (delay <= 0) return delay;
  if (!(jitter > 0.0)) return delay;
  if (jitter > 1.0) jitter = 1.0;
  // jitter * u < 1, so the cut is below delay except where double(delay) rounded up
  // (delays past 2^53 ns, 104 days); the clamp keeps the result positive there too.
  auto cut = static_cast<ns_t>(static_cast<double>(delay) * (jitter * u));
  if (cut >= delay) cut = delay - 1;
  return delay - cut;
}

}  // namespace rt
