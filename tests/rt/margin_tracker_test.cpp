// The auto hybrid margin's tracker (rt/src/margin_tracker.hpp) on injected lateness
// sequences: the cap during the warm-up, then the window's p99.9 plus the guard; it rises
// to cover a tail, falls back once the tail has left the window, never exceeds the cap and
// never goes below the guard. Then an engine's hybrid loop with hybrid_margin =
// kAutoMargin: the margin it reports is the tracker's (no timing is asserted). And the
// same tracker as a periodic graph's feed lead (FeedLead: worker_state.hpp's cap, p99 and
// clamp).
#include "margin_tracker.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "engine_test_support.hpp"
#include "rt/engine.hpp"
#include "worker_state.hpp"

namespace {

using rt::detail::MarginTracker;
constexpr hal::ns_t kUs = hal::kNsPerUs;
constexpr hal::ns_t kCap = 250 * kUs;
constexpr hal::ns_t kGuard = 20 * kUs;

void feed(MarginTracker& t, std::uint32_t n, hal::ns_t lateness) {
  for (std::uint32_t i = 0; i < n; ++i)
    t.record(lateness);
}

// The bucket a value falls in holds it, and its top is never more than 1/8 above it.
TEST(MarginTracker, BucketTopsCoverTheirValuesWithin12Percent) {
  for (hal::ns_t v : {hal::ns_t{0}, hal::ns_t{1}, hal::ns_t{15}, hal::ns_t{16}, hal::ns_t{17}, 999 * kUs, 50 * kUs,
                      123'456 * kUs, MarginTracker::kMaxValue}) {
    const hal::ns_t top = MarginTracker::bucket_high(MarginTracker::bucket_of(v));
    EXPECT_GE(top, v) << v;
    EXPECT_LE(top - v, v / 8 + 1) << v;
  }
  EXPECT_EQ(MarginTracker::bucket_of(MarginTracker::kMaxValue), MarginTracker::kBuckets - 1);
  EXPECT_EQ(MarginTracker::bucket_of(2 * MarginTracker::kMaxValue), MarginTracker::kBuckets - 1);
  EXPECT_EQ(MarginTracker::bucket_of(-5), 0U);
  for (std::size_t b = 0; b + 1 < MarginTracker::kBuckets; ++b)  // contiguous
    EXPECT_EQ(MarginTracker::bucket_of(MarginTracker::bucket_high(b) + 1), b + 1) << b;
}

TEST(MarginTracker, StartsAtTheCapUntilTheWarmUpIsOver) {
  MarginTracker t;
  t.configure(kCap, kGuard);
  EXPECT_EQ(t.margin(), kCap);
  EXPECT_EQ(t.lateness(), 0);
  feed(t, MarginTracker::kWarmup - 1, 40 * kUs);
  EXPECT_EQ(t.margin(), kCap);
  t.record(40 * kUs);
  EXPECT_GE(t.margin(), 40 * kUs + kGuard);
  EXPECT_LT(t.margin(), kCap);
  EXPECT_GE(t.lateness(), 40 * kUs);
}

TEST(MarginTracker, IsTheP999PlusTheGuard) {
  MarginTracker t;
  t.configure(kCap, kGuard);
  feed(t, 2000, 40 * kUs);
  const hal::ns_t base = t.margin();
  EXPECT_EQ(base, t.lateness() + kGuard);
  EXPECT_GE(t.lateness(), 40 * kUs);
  EXPECT_LE(t.lateness(), 45 * kUs);
  // One wake-up in 2001 above the rest is within the 1 in 1000 it need not cover.
  t.record(150 * kUs);
  EXPECT_EQ(t.margin(), base);
  // A few more make the tail: now it is covered.
  feed(t, 3, 150 * kUs);
  EXPECT_GE(t.margin(), 150 * kUs + kGuard);
}

TEST(MarginTracker, RisesToCoverATailAndFallsBackAfterItLeavesTheWindow) {
  MarginTracker t;
  t.configure(kCap, kGuard);
  feed(t, 3 * MarginTracker::kEpoch, 30 * kUs);
  const hal::ns_t quiet = t.margin();
  EXPECT_LT(quiet, 40 * kUs + kGuard);
  // A noisy phase: 1 % of the wake-ups 180 us late.
  for (int i = 0; i < 1000; ++i)
    t.record(i % 100 == 0 ? 180 * kUs : 30 * kUs);
  EXPECT_GE(t.margin(), 180 * kUs + kGuard);
  EXPECT_LE(t.margin(), kCap);
  // Quiet again: the tail is still in the window for a while, then gone.
  feed(t, MarginTracker::kEpoch / 2, 30 * kUs);
  EXPECT_GE(t.margin(), 180 * kUs + kGuard);
  feed(t, 2 * MarginTracker::kEpoch, 30 * kUs);
  EXPECT_EQ(t.margin(), quiet);
}

TEST(MarginTracker, NeverExceedsTheCap) {
  MarginTracker t;
  t.configure(kCap, kGuard);
  for (std::uint32_t i = 0; i < 3 * MarginTracker::kEpoch; ++i) {
    t.record(i % 10 == 0 ? 40 * hal::kNsPerMs : 30 * kUs);  // a stall every tenth wake-up
    ASSERT_LE(t.margin(), kCap) << i;
  }
  EXPECT_EQ(t.margin(), kCap);
  EXPECT_GE(t.lateness(), 40 * hal::kNsPerMs);  // what it saw, whatever the cap made of it
  t.record(10 * hal::kNsPerSec);                // beyond the buckets: saturates
  EXPECT_EQ(t.margin(), kCap);
}

TEST(MarginTracker, NeverGoesBelowTheGuard) {
  MarginTracker t;
  t.configure(kCap, kGuard);
  for (std::uint32_t i = 0; i < 2 * MarginTracker::kEpoch; ++i) {
    t.record(i % 2 == 0 ? 0 : -3 * kUs);  // on time, or (a clock step) early
    ASSERT_GE(t.margin(), kGuard) << i;
  }
  EXPECT_EQ(t.margin(), kGuard);
  EXPECT_EQ(t.lateness(), 0);
}

TEST(MarginTracker, ACapBelowTheGuardWins) {
  MarginTracker t;
  t.configure(5 * kUs, kGuard);
  feed(t, 500, 0);
  EXPECT_EQ(t.margin(), 5 * kUs);
}

TEST(MarginTracker, TheWindowHoldsOneToTwoEpochs) {
  MarginTracker t;
  t.configure(kCap, kGuard);
  feed(t, MarginTracker::kEpoch, 1);
  EXPECT_EQ(t.samples(), MarginTracker::kEpoch);
  feed(t, MarginTracker::kEpoch - 1, 1);
  EXPECT_EQ(t.samples(), 2 * MarginTracker::kEpoch - 1);
  t.record(1);
  EXPECT_EQ(t.samples(), 2 * MarginTracker::kEpoch);
  t.record(1);
  EXPECT_EQ(t.samples(), MarginTracker::kEpoch + 1);
  t.configure(kCap, kGuard);  // forgets
  EXPECT_EQ(t.samples(), 0U);
  EXPECT_EQ(t.margin(), kCap);
}

// A feed's lead (worker_loop.cpp) needs only the p99: a tail of 1 in 200 is left out
// with a tail of 1 in 100 and covered with the default 1 in 1000.
TEST(MarginTracker, ATailOfOneInAHundredLeavesOutWhatTheDefaultCovers) {
  MarginTracker p99;
  MarginTracker p999;
  p99.configure(kCap, kGuard, 100);
  p999.configure(kCap, kGuard);
  for (int i = 0; i < 2000; ++i) {
    const hal::ns_t late = i % 200 == 0 ? 150 * kUs : 30 * kUs;
    p99.record(late);
    p999.record(late);
  }
  EXPECT_LT(p99.margin(), 40 * kUs + kGuard);
  EXPECT_GE(p999.margin(), 150 * kUs + kGuard);
  // At 1 in 50, the p99 covers it too.
  for (int i = 0; i < 2000; ++i)
    p99.record(i % 50 == 0 ? 150 * kUs : 30 * kUs);
  EXPECT_GE(p99.margin(), 150 * kUs + kGuard);
}

// ---- a feed's lead (worker_state.hpp: feed_lead_cap, configure_feed_lag, feed_lead) ----

// The cap: a quarter of the period, at most 1 ms, or idle_spin when that is longer, and
// never past the room the window leaves (period - 2 x max(idle_spin, period / 8)).
TEST(FeedLead, TheCapIsAQuarterOfThePeriodAtMostAMillisecondOrIdleSpin) {
  using rt::detail::feed_lead_cap;
  using rt::detail::feed_room;
  EXPECT_EQ(feed_lead_cap(hal::kNsPerMs, 20 * kUs), 250 * kUs);
  EXPECT_EQ(feed_lead_cap(8 * hal::kNsPerMs, 100 * kUs), hal::kNsPerMs);
  EXPECT_EQ(feed_lead_cap(hal::kNsPerSec, 20 * kUs), hal::kNsPerMs);
  EXPECT_EQ(feed_lead_cap(100 * hal::kNsPerMs, 2 * hal::kNsPerMs), 2 * hal::kNsPerMs);
  EXPECT_EQ(feed_room(100 * kUs, 20 * kUs), 60 * kUs);
  EXPECT_EQ(feed_lead_cap(100 * kUs, 20 * kUs), 25 * kUs);
  EXPECT_EQ(feed_lead_cap(100 * kUs, 40 * kUs), 20 * kUs);  // the room
  EXPECT_LE(feed_room(40 * kUs, 20 * kUs), 0);              // no feed at all
}

// The lead: the cap until 64 pre-wakes, then the p99 of their lateness plus idle_spin:
// a tail of 1 in 200 left out, 1 in 50 covered, a stall capped.
TEST(FeedLead, LearnsThePreWakesP99PlusIdleSpinWithinTheCap) {
  using rt::detail::feed_lead;
  const hal::ns_t period = hal::kNsPerMs;
  const hal::ns_t spin = 20 * kUs;
  const hal::ns_t room = rt::detail::feed_room(period, spin);
  MarginTracker lag;
  rt::detail::configure_feed_lag(lag, period, spin);
  EXPECT_EQ(feed_lead(lag, room, spin), 250 * kUs);
  feed(lag, MarginTracker::kWarmup - 1, 30 * kUs);
  EXPECT_EQ(feed_lead(lag, room, spin), 250 * kUs);
  for (int i = 0; i < 2000; ++i)
    lag.record(i % 200 == 0 ? 150 * kUs : 30 * kUs);
  EXPECT_GE(feed_lead(lag, room, spin), 30 * kUs + spin);
  EXPECT_LE(feed_lead(lag, room, spin), 34 * kUs + spin);  // a bucket's top: <= 1/8 above
  for (int i = 0; i < 2000; ++i)
    lag.record(i % 50 == 0 ? 150 * kUs : 30 * kUs);
  EXPECT_GE(feed_lead(lag, room, spin), 150 * kUs + spin);
  feed(lag, 100, 40 * hal::kNsPerMs);  // a stall longer than the period
  EXPECT_EQ(feed_lead(lag, room, spin), 250 * kUs);
  // On time: idle_spin, never less.
  MarginTracker quiet;
  rt::detail::configure_feed_lag(quiet, period, spin);
  feed(quiet, 500, 0);
  EXPECT_EQ(feed_lead(quiet, room, spin), spin);
}
// ---- in an engine ----

rt::EngineConfig dedicated_config() {
  rt::EngineConfig c = testing_support::small_config(2);
  c.workers[0].classes = 0;  // worker 0 runs the loop only: its waits end by time out
  return c;
}

rt::PeriodicStats run_loop(const rt::PeriodicSpec& spec, std::uint64_t runs) {
  rt::Engine e(dedicated_config());
  std::atomic<std::uint64_t> n{0};
  const int id = e.add_periodic(spec, [&n] { n.fetch_add(1); });
  e.start();
  EXPECT_TRUE(e.start_periodic(id));
  EXPECT_TRUE(testing_support::eventually([&] { return n.load() >= runs; }));
  EXPECT_TRUE(e.stop_periodic(id));
  EXPECT_TRUE(testing_support::eventually([&] { return e.periodic_stats(id).state == rt::PeriodicState::Stopped; }));
  rt::PeriodicStats s = e.periodic_stats(id);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  return s;
}

TEST(MarginTracker, AnAutoHybridLoopReportsTheMarginItChoseWithinTheCap) {
  constexpr hal::ns_t kPeriod = 2 * hal::kNsPerMs;
  const rt::PeriodicSpec spec{.name = "auto",
                              .period = kPeriod,
                              .worker = 0,
                              .precision = rt::Precision::Hybrid,
                              .hybrid_margin = rt::kAutoMargin,
                              .hybrid_margin_cap = 0.2,
                              .hybrid_margin_guard = 30 * kUs};
  const hal::ns_t cap = kPeriod / 5;
  // Past the warm-up, if the loop's waits ended by time out as they should.
  const rt::PeriodicStats s = run_loop(spec, std::uint64_t{2} * MarginTracker::kWarmup);
  EXPECT_GT(s.hybrid_margin, 0);
  EXPECT_LE(s.hybrid_margin, cap);
  EXPECT_GE(s.wake_lateness_p999, 0);
  // The cap (still warming up, or a tail beyond it), or the lateness plus the guard.
  if (s.hybrid_margin != cap) {
    EXPECT_EQ(s.hybrid_margin, s.wake_lateness_p999 + 30 * kUs);
  }
  EXPECT_LE(s.late_wakes, s.releases);
  EXPECT_EQ(s.releases, s.runs + s.skipped);
}

TEST(MarginTracker, AFixedMarginIsReportedAsIsAndSleepHasNone) {
  const rt::PeriodicStats fixed = run_loop({.name = "fixed",
                                            .period = hal::kNsPerMs,
                                            .worker = 0,
                                            .precision = rt::Precision::Hybrid,
                                            .hybrid_margin = 150 * kUs},
                                           20);
  EXPECT_EQ(fixed.hybrid_margin, 150 * kUs);
  const rt::PeriodicStats sleep = run_loop({.name = "sleep", .period = hal::kNsPerMs, .worker = 0}, 20);
  EXPECT_EQ(sleep.hybrid_margin, 0);
  EXPECT_EQ(sleep.wake_lateness_p999, 0);
  EXPECT_EQ(sleep.late_wakes, 0U);
}

}  // namespace
