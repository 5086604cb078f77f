#include "rt/retry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

namespace {

using rt::ns_t;
using rt::RetryPolicy;
using rt::RetryPreset;
using rt::RetryStrategy;

constexpr ns_t kMs = hal::kNsPerMs;
constexpr ns_t kSec = hal::kNsPerSec;
constexpr ns_t kNsMax = std::numeric_limits<ns_t>::max();

RetryPolicy policy(RetryStrategy s, ns_t initial, ns_t max = 0, double multiplier = 2.0) {
  RetryPolicy p;
  p.strategy = s;
  p.max_retries = 10;
  p.initial_delay = initial;
  p.max_delay = max;
  p.multiplier = multiplier;
  return p;
}

std::vector<ns_t> delays(const RetryPolicy& p, std::uint32_t count) {
  std::vector<ns_t> out;
  for (std::uint32_t n = 1; n <= count; ++n)
    out.push_back(rt::retry_delay(p, n));
  return out;
}

using V = std::vector<ns_t>;

TEST(RetryDelay, NoneAndImmediateNeverWait) {
  EXPECT_EQ(delays(policy(RetryStrategy::None, 5 * kMs), 6), V(6, 0));
  EXPECT_EQ(delays(policy(RetryStrategy::Immediate, 5 * kMs), 6), V(6, 0));
}

TEST(RetryDelay, FixedRepeatsTheInitialDelay) {
  EXPECT_EQ(delays(policy(RetryStrategy::Fixed, 3 * kMs), 6), V(6, 3 * kMs));
}

TEST(RetryDelay, LinearGrowsByTheInitialDelay) {
  EXPECT_EQ(delays(policy(RetryStrategy::Linear, 3 * kMs), 6),
            (V{3 * kMs, 6 * kMs, 9 * kMs, 12 * kMs, 15 * kMs, 18 * kMs}));
}

TEST(RetryDelay, ExponentialMultipliesEachTime) {
  EXPECT_EQ(delays(policy(RetryStrategy::Exponential, 1000, 0, 3.0), 6), (V{1000, 3000, 9000, 27000, 81000, 243000}));
}

TEST(RetryDelay, ExponentialRoundsToTheNearestNanosecond) {
  // 3 * 1.5^k = 3, 4.5, 6.75, 10.125, 15.1875, 22.78125
  EXPECT_EQ(delays(policy(RetryStrategy::Exponential, 3, 0, 1.5), 6), (V{3, 5, 7, 10, 15, 23}));
}

TEST(RetryDelay, FibonacciFollowsTheSequence) {
  EXPECT_EQ(delays(policy(RetryStrategy::Fibonacci, 7), 6), (V{7, 7, 14, 21, 35, 56}));
}

TEST(RetryDelay, FibonacciIsExactUpToTheLastTermThatFits) {
  // fib(92) is the largest Fibonacci number below 2^63; a double would round it.
  EXPECT_EQ(rt::retry_delay(policy(RetryStrategy::Fibonacci, 1), 92), 7540113804746346429);
  EXPECT_EQ(rt::retry_delay(policy(RetryStrategy::Fibonacci, 1), 93), kNsMax);
}

TEST(RetryDelay, RetryZeroIsTakenAsTheFirst) {
  for (auto s : {RetryStrategy::Fixed, RetryStrategy::Linear, RetryStrategy::Exponential, RetryStrategy::Fibonacci}) {
    const RetryPolicy p = policy(s, 4 * kMs);
    EXPECT_EQ(rt::retry_delay(p, 0), rt::retry_delay(p, 1)) << rt::to_string(s);
  }
}

TEST(RetryDelay, EveryStrategyIsCappedAtMaxDelay) {
  EXPECT_EQ(delays(policy(RetryStrategy::Exponential, kSec, 5 * kSec), 6),
            (V{kSec, 2 * kSec, 4 * kSec, 5 * kSec, 5 * kSec, 5 * kSec}));
  EXPECT_EQ(delays(policy(RetryStrategy::Linear, kSec, 3 * kSec), 5),
            (V{kSec, 2 * kSec, 3 * kSec, 3 * kSec, 3 * kSec}));
  EXPECT_EQ(delays(policy(RetryStrategy::Fibonacci, kSec, 4 * kSec), 6),
            (V{kSec, kSec, 2 * kSec, 3 * kSec, 4 * kSec, 4 * kSec}));
}

TEST(RetryDelay, SaturatesAtMaxDelayForHugeRetryNumbers) {
  for (std::uint32_t n : {200U, 1000U, std::numeric_limits<std::uint32_t>::max()}) {
    EXPECT_EQ(rt::retry_delay(policy(RetryStrategy::Exponential, kSec, 60 * kSec), n), 60 * kSec) << n;
    EXPECT_EQ(rt::retry_delay(policy(RetryStrategy::Fibonacci, kSec, 60 * kSec), n), 60 * kSec) << n;
    EXPECT_EQ(rt::retry_delay(policy(RetryStrategy::Linear, kNsMax / 2, 60 * kSec), n), 60 * kSec) << n;
  }
}

TEST(RetryDelay, WithoutACapHugeRetryNumbersSaturateAtTheLargestDelay) {
  for (std::uint32_t n : {200U, 1000U, std::numeric_limits<std::uint32_t>::max()}) {
    EXPECT_EQ(rt::retry_delay(policy(RetryStrategy::Exponential, kSec), n), kNsMax) << n;
    EXPECT_EQ(rt::retry_delay(policy(RetryStrategy::Fibonacci, kSec), n), kNsMax) << n;
  }
  EXPECT_EQ(rt::retry_delay(policy(RetryStrategy::Linear, kNsMax / 2), 3), kNsMax);
  // A multiplier just above 1 must not take 2^32 steps, nor lose its growth.
  const ns_t slow = rt::retry_delay(policy(RetryStrategy::Exponential, kSec, 0, 1.0000001), 1'000'000'000);
  EXPECT_EQ(slow, kNsMax);
}

TEST(RetryDelay, ARejectedPolicyStillGivesANonNegativeDelay) {
  EXPECT_EQ(rt::retry_delay(policy(RetryStrategy::Linear, -kSec), 1000), 0);
  EXPECT_EQ(rt::retry_delay(policy(RetryStrategy::Fibonacci, -kSec), 1000), 0);
  EXPECT_EQ(rt::retry_delay(policy(RetryStrategy::Exponential, kSec, 0, -3.0), 2), 0);
  EXPECT_EQ(rt::retry_delay(policy(RetryStrategy::Exponential, kSec, 0, std::numeric_limits<double>::quiet_NaN()), 2),
            0);
}

TEST(RetryPreset, FirstDelaysAndCapFollowTheSpec) {
  const RetryPolicy standard = rt::retry_preset(RetryPreset::Standard);
  EXPECT_EQ(standard.max_retries, 3U);
  EXPECT_EQ(delays(standard, 3), (V{kSec, 2 * kSec, 4 * kSec}));
  EXPECT_EQ(rt::retry_delay(standard, 7), 60 * kSec);  // 64 s, capped

  const RetryPolicy aggressive = rt::retry_preset(RetryPreset::Aggressive);
  EXPECT_EQ(aggressive.max_retries, 5U);
  EXPECT_EQ(delays(aggressive, 5), (V{500 * kMs, kSec, 2 * kSec, 4 * kSec, 8 * kSec}));
  EXPECT_EQ(rt::retry_delay(aggressive, 7), 30 * kSec);  // 32 s, capped

  const RetryPolicy conservative = rt::retry_preset(RetryPreset::Conservative);
  EXPECT_EQ(conservative.max_retries, 2U);
  EXPECT_EQ(delays(conservative, 2), (V{2 * kSec, 6 * kSec}));
  EXPECT_EQ(rt::retry_delay(conservative, 5), 120 * kSec);  // 162 s, capped

  const RetryPolicy quick = rt::retry_preset(RetryPreset::Quick);
  EXPECT_EQ(quick.max_retries, 3U);
  EXPECT_EQ(delays(quick, 3), (V{100 * kMs, 150 * kMs, 225 * kMs}));
  EXPECT_EQ(rt::retry_delay(quick, 10), 3'844'335'938);  // 1e8 * 1.5^9 = 3844335937.5: rounded up
  EXPECT_EQ(rt::retry_delay(quick, 11), 5 * kSec);       // 5.77 s, capped
}

TEST(RetryPreset, AllAreExponentialWithoutJitterAndValid) {
  for (auto p : {RetryPreset::Aggressive, RetryPreset::Standard, RetryPreset::Conservative, RetryPreset::Quick}) {
    const RetryPolicy r = rt::retry_preset(p);
    EXPECT_EQ(r.strategy, RetryStrategy::Exponential) << rt::to_string(p);
    EXPECT_EQ(r.jitter, 0.0) << rt::to_string(p);
    EXPECT_TRUE(r.enabled()) << rt::to_string(p);
    EXPECT_EQ(rt::retry_policy_error(r), "") << rt::to_string(p);
  }
}

TEST(RetryNames, StrategiesRoundTripCaseInsensitively) {
  for (auto s : {RetryStrategy::None, RetryStrategy::Immediate, RetryStrategy::Fixed, RetryStrategy::Linear,
                 RetryStrategy::Exponential, RetryStrategy::Fibonacci}) {
    RetryStrategy out = RetryStrategy::None;
    ASSERT_TRUE(rt::parse_retry_strategy(rt::to_string(s), out)) << rt::to_string(s);
    EXPECT_EQ(out, s);
  }
  EXPECT_EQ(rt::to_string(RetryStrategy::Exponential), "exponential");
  RetryStrategy out = RetryStrategy::None;
  EXPECT_TRUE(rt::parse_retry_strategy("FiBoNaCcI", out));
  EXPECT_EQ(out, RetryStrategy::Fibonacci);
}

TEST(RetryNames, PresetsRoundTripCaseInsensitively) {
  for (auto p : {RetryPreset::Aggressive, RetryPreset::Standard, RetryPreset::Conservative, RetryPreset::Quick}) {
    RetryPreset out = RetryPreset::Quick;
    ASSERT_TRUE(rt::parse_retry_preset(rt::to_string(p), out)) << rt::to_string(p);
    EXPECT_EQ(out, p);
  }
  RetryPreset out = RetryPreset::Quick;
  EXPECT_TRUE(rt::parse_retry_preset("STANDARD", out));
  EXPECT_EQ(out, RetryPreset::Standard);
}

TEST(RetryNames, UnknownNamesAreRefusedAndLeaveTheOutputAlone) {
  RetryStrategy s = RetryStrategy::Linear;
  for (std::string_view bad : {"", "exp", "exponentia", "exponentiall", "random", " fixed"})
    EXPECT_FALSE(rt::parse_retry_strategy(bad, s)) << bad;
  EXPECT_EQ(s, RetryStrategy::Linear);
  RetryPreset p = RetryPreset::Quick;
  for (std::string_view bad : {"", "std", "standard ", "fast"})
    EXPECT_FALSE(rt::parse_retry_preset(bad, p)) << bad;
  EXPECT_EQ(p, RetryPreset::Quick);
  EXPECT_EQ(rt::to_string(static_cast<RetryStrategy>(42)), "unknown");
}

// The message for `p`, which must be non-empty and name `field`.
void expect_error_names(const RetryPolicy& p, std::string_view field) {
  const std::string_view e = rt::retry_policy_error(p);
  EXPECT_NE(e.find(field), std::string_view::npos) << "message: '" << e << "', field: " << field;
}

TEST(RetryPolicyError, AGoodPolicyHasNone) {
  EXPECT_EQ(rt::retry_policy_error(RetryPolicy{}), "");
  EXPECT_EQ(rt::retry_policy_error(policy(RetryStrategy::Fixed, kSec, 2 * kSec)), "");
  RetryPolicy immediate = policy(RetryStrategy::Immediate, 0);
  EXPECT_EQ(rt::retry_policy_error(immediate), "");
  immediate.max_retries = rt::kMaxRetries;
  immediate.jitter = 1.0;
  EXPECT_EQ(rt::retry_policy_error(immediate), "");
}

TEST(RetryPolicyError, NamesEachBadField) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  const RetryPolicy good = policy(RetryStrategy::Exponential, kSec, 10 * kSec);
  RetryPolicy p = good;
  p.initial_delay = -1;
  expect_error_names(p, "initial_delay");
  p = good;
  p.max_delay = -1;
  expect_error_names(p, "max_delay");
  for (double m : {0.5, 0.0, -2.0, kNaN, std::numeric_limits<double>::infinity()}) {
    p = good;
    p.multiplier = m;
    expect_error_names(p, "multiplier");
  }
  p = policy(RetryStrategy::Fixed, kSec);  // rejected even where it is not used
  p.multiplier = 0.5;
  expect_error_names(p, "multiplier");
  for (double j : {-0.1, 1.1, kNaN}) {
    p = good;
    p.jitter = j;
    expect_error_names(p, "jitter");
  }
  p = good;
  p.max_delay = kSec - 1;
  expect_error_names(p, "max_delay");
  p = good;
  p.initial_delay = 0;
  p.max_delay = 0;
  expect_error_names(p, "initial_delay");
  expect_error_names(p, "0");
  p = good;
  p.max_retries = rt::kMaxRetries + 1;
  expect_error_names(p, "max_retries");
  expect_error_names(p, "1000");
  p = good;
  p.strategy = static_cast<RetryStrategy>(42);
  expect_error_names(p, "strategy");
}

TEST(RetryJitter, StaysWithinBoundsAndVaries) {
  std::uint64_t rng = 12345;
  constexpr ns_t kDelay = kSec;
  constexpr double kJitter = 0.25;
  ns_t lo = kNsMax;
  ns_t hi = 0;
  for (int i = 0; i < 10000; ++i) {
    const ns_t d = rt::jittered(kDelay, kJitter, rng);
    ASSERT_GT(d, 750 * kMs);
    ASSERT_LE(d, kDelay);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_LT(lo, hi);
  // 10000 uniform draws cover most of the quarter they may take off.
  EXPECT_LT(lo, 760 * kMs);
  EXPECT_GT(hi, 990 * kMs);
}

TEST(RetryJitter, FullJitterKeepsEvenTheLargestDelayPositive) {
  std::uint64_t rng = 1;
  for (int i = 0; i < 10000; ++i) {
    const ns_t d = rt::jittered(kNsMax, 1.0, rng);
    ASSERT_GT(d, 0);
    const ns_t small = rt::jittered(3, 1.0, rng);
    ASSERT_GE(small, 1);
    ASSERT_LE(small, 3);
  }
}

TEST(RetryJitter, ZeroJitterIsExactAndStillAdvancesTheState) {
  std::uint64_t rng = 99;
  EXPECT_EQ(rt::jittered(1234567, 0.0, rng), 1234567);
  EXPECT_NE(rng, 99U);
  EXPECT_EQ(rt::jittered(1234567, std::numeric_limits<double>::quiet_NaN(), rng), 1234567);
  EXPECT_EQ(rt::jittered(0, 0.5, rng), 0);
}

TEST(RetryJitter, AZeroStateIsReseededAndTheSequenceIsDeterministic) {
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(rt::jittered(kSec, 0.5, a), rt::jittered(kSec, 0.5, b));
    EXPECT_NE(a, 0U);
  }
}

TEST(RetryPolicy, EnabledNeedsAStrategyAndARetry) {
  static_assert(!RetryPolicy{}.enabled());
  EXPECT_FALSE((RetryPolicy{RetryStrategy::None, 3}.enabled()));
  EXPECT_FALSE((RetryPolicy{RetryStrategy::Fixed, 0, kSec}.enabled()));
  EXPECT_TRUE((RetryPolicy{RetryStrategy::Fixed, 1, kSec}.enabled()));
  EXPECT_TRUE((RetryPolicy{RetryStrategy::Immediate, 1}.enabled()));
}

}  // namespace
