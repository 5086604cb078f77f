#include "rt/breaker.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using rt::BreakerChange;
using rt::BreakerConfig;
using rt::BreakerState;
using rt::CircuitBreaker;
using rt::ns_t;

constexpr ns_t kSec = hal::kNsPerSec;
constexpr ns_t kMs = hal::kNsPerMs;
constexpr ns_t kT0 = 100 * kSec;  // an arbitrary CLOCK_MONOTONIC instant

BreakerConfig config(std::uint32_t threshold = 3, ns_t window = 10 * kSec, ns_t cool_down = 5 * kSec,
                     std::uint32_t trials = 1) {
  BreakerConfig c;
  c.type = "sensor.read";
  c.failure_threshold = threshold;
  c.window = window;
  c.cool_down = cool_down;
  c.half_open_trials = trials;
  return c;
}

// Fails `b` threshold times at `at` so that it opens there.
void open_at(CircuitBreaker& b, ns_t at) {
  for (std::uint32_t i = 1; i < b.config().failure_threshold; ++i)
    ASSERT_EQ(b.on_failure(at), BreakerChange::None);
  ASSERT_EQ(b.on_failure(at), BreakerChange::Opened);
}

TEST(Breaker, FullWalkThroughEveryState) {
  CircuitBreaker b(config(3, 10 * kSec, 5 * kSec, 2));
  BreakerChange change = BreakerChange::Opened;  // try_admit always sets it
  EXPECT_TRUE(b.try_admit(kT0, &change));
  EXPECT_EQ(change, BreakerChange::None);
  EXPECT_EQ(b.state(), BreakerState::Closed);

  EXPECT_EQ(b.on_failure(kT0), BreakerChange::None);
  EXPECT_EQ(b.on_failure(kT0 + kSec), BreakerChange::None);
  EXPECT_EQ(b.state(), BreakerState::Closed);
  EXPECT_EQ(b.on_failure(kT0 + 2 * kSec), BreakerChange::Opened);  // the 3rd within 10 s
  EXPECT_EQ(b.state(), BreakerState::Open);
  EXPECT_EQ(b.stats().opened, 1U);
  EXPECT_EQ(b.stats().opened_at, kT0 + 2 * kSec);

  const ns_t opened = kT0 + 2 * kSec;
  for (ns_t t : {opened, opened + kSec, opened + 5 * kSec - 1}) {
    EXPECT_FALSE(b.try_admit(t, &change)) << t;
    EXPECT_EQ(change, BreakerChange::None);
  }
  EXPECT_EQ(b.stats().rejected, 3U);
  EXPECT_EQ(b.state(), BreakerState::Open);

  // Cool-down over: the first caller half-opens it and is the first trial.
  EXPECT_TRUE(b.try_admit(opened + 5 * kSec, &change));
  EXPECT_EQ(change, BreakerChange::HalfOpened);
  EXPECT_EQ(b.state(), BreakerState::HalfOpen);
  EXPECT_TRUE(b.try_admit(opened + 5 * kSec, &change));  // the second of two trials
  EXPECT_EQ(change, BreakerChange::None);
  EXPECT_FALSE(b.try_admit(opened + 6 * kSec, &change));  // no more until a result
  EXPECT_EQ(change, BreakerChange::None);
  EXPECT_EQ(b.stats().rejected, 4U);

  const ns_t closed = opened + 7 * kSec;
  EXPECT_EQ(b.on_success(closed), BreakerChange::Closed);
  EXPECT_EQ(b.state(), BreakerState::Closed);
  EXPECT_TRUE(b.try_admit(closed, &change));
  EXPECT_EQ(change, BreakerChange::None);

  // The failures that opened it (all within 10 s of now) were forgotten on closing.
  EXPECT_EQ(b.on_failure(closed + kMs), BreakerChange::None);
  EXPECT_EQ(b.on_failure(closed + 2 * kMs), BreakerChange::None);
  EXPECT_EQ(b.on_failure(closed + 3 * kMs), BreakerChange::Opened);

  const rt::BreakerStats s = b.stats();
  EXPECT_EQ(s.state, BreakerState::Open);
  EXPECT_EQ(s.failures, 6U);
  EXPECT_EQ(s.successes, 1U);
  EXPECT_EQ(s.rejected, 4U);
  EXPECT_EQ(s.opened, 2U);
  EXPECT_EQ(s.opened_at, closed + 3 * kMs);
}

TEST(Breaker, AFailedTrialReopensWithANewCoolDown) {
  CircuitBreaker b(config());
  open_at(b, kT0);
  BreakerChange change = BreakerChange::None;
  ASSERT_TRUE(b.try_admit(kT0 + 5 * kSec, &change));
  ASSERT_EQ(change, BreakerChange::HalfOpened);

  const ns_t reopened = kT0 + 6 * kSec;
  EXPECT_EQ(b.on_failure(reopened), BreakerChange::Opened);
  EXPECT_EQ(b.state(), BreakerState::Open);
  EXPECT_EQ(b.stats().opened, 2U);
  EXPECT_EQ(b.stats().opened_at, reopened);
  EXPECT_FALSE(b.try_admit(reopened + 5 * kSec - 1, &change));
  EXPECT_TRUE(b.try_admit(reopened + 5 * kSec, &change));
  EXPECT_EQ(change, BreakerChange::HalfOpened);
}

TEST(Breaker, FailuresSpreadWiderThanTheWindowNeverOpenIt) {
  CircuitBreaker b(config(3, 10 * kSec));
  // Every 5 s: never 3 failures less than 10 s apart.
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(b.on_failure(kT0 + 5 * kSec * i), BreakerChange::None) << i;
  EXPECT_EQ(b.state(), BreakerState::Closed);
  EXPECT_EQ(b.stats().failures, 100U);
  EXPECT_EQ(b.stats().opened, 0U);
  EXPECT_EQ(b.stats().opened_at, 0);
}

TEST(Breaker, TheWindowIsHalfOpenAtItsOldEnd) {
  CircuitBreaker exactly(config(3, 10 * kSec));
  EXPECT_EQ(exactly.on_failure(kT0), BreakerChange::None);
  EXPECT_EQ(exactly.on_failure(kT0 + 5 * kSec), BreakerChange::None);
  EXPECT_EQ(exactly.on_failure(kT0 + 10 * kSec), BreakerChange::None);  // the first is 10 s old: out

  CircuitBreaker within(config(3, 10 * kSec));
  EXPECT_EQ(within.on_failure(kT0), BreakerChange::None);
  EXPECT_EQ(within.on_failure(kT0 + 5 * kSec), BreakerChange::None);
  EXPECT_EQ(within.on_failure(kT0 + 10 * kSec - 1), BreakerChange::Opened);
}

TEST(Breaker, SuccessesWhileClosedDoNotResetTheFailureCount) {
  // The circuit watches the failure rate in the window, not runs of consecutive failures.
  CircuitBreaker b(config(3));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(b.on_failure(kT0 + i * kSec), BreakerChange::None);
    EXPECT_EQ(b.on_success(kT0 + i * kSec + kMs), BreakerChange::None);
  }
  EXPECT_EQ(b.on_failure(kT0 + 2 * kSec), BreakerChange::Opened);
}

TEST(Breaker, AThresholdOfOneOpensOnTheFirstFailure) {
  CircuitBreaker b(config(1));
  EXPECT_EQ(b.on_failure(kT0), BreakerChange::Opened);
}

TEST(Breaker, ResultsWhileOpenAreCountedButChangeNothing) {
  CircuitBreaker b(config());
  open_at(b, kT0);
  EXPECT_EQ(b.on_success(kT0 + kSec), BreakerChange::None);
  EXPECT_EQ(b.on_failure(kT0 + 2 * kSec), BreakerChange::None);
  EXPECT_EQ(b.state(), BreakerState::Open);
  EXPECT_EQ(b.stats().successes, 1U);
  EXPECT_EQ(b.stats().failures, 4U);
  EXPECT_EQ(b.stats().opened_at, kT0);  // the late failure did not extend the cool-down
  EXPECT_TRUE(b.try_admit(kT0 + 5 * kSec));
}

TEST(Breaker, ClosingForgetsFailuresAtTheClosingInstant) {
  CircuitBreaker b(config(2, 10 * kSec, 0));  // cool_down 0: everything at one instant
  open_at(b, kT0);
  BreakerChange change = BreakerChange::None;
  ASSERT_TRUE(b.try_admit(kT0, &change));
  ASSERT_EQ(change, BreakerChange::HalfOpened);
  ASSERT_EQ(b.on_success(kT0), BreakerChange::Closed);
  EXPECT_EQ(b.on_failure(kT0), BreakerChange::None);  // not counted: at the closing instant
  EXPECT_EQ(b.on_failure(kT0 + 1), BreakerChange::None);
  EXPECT_EQ(b.on_failure(kT0 + 2), BreakerChange::Opened);
}

TEST(Breaker, ANewRoundOfTrialsWhenNoneReportsWithinACoolDown) {
  CircuitBreaker b(config(3, 10 * kSec, 5 * kSec, 1));
  open_at(b, kT0);
  const ns_t half = kT0 + 5 * kSec;
  BreakerChange change = BreakerChange::None;
  ASSERT_TRUE(b.try_admit(half, &change));
  ASSERT_EQ(change, BreakerChange::HalfOpened);
  EXPECT_FALSE(b.try_admit(half + 5 * kSec, &change));     // the trial may still report
  EXPECT_TRUE(b.try_admit(half + 5 * kSec + 1, &change));  // its task was lost: a new round
  EXPECT_EQ(change, BreakerChange::None);
  EXPECT_EQ(b.state(), BreakerState::HalfOpen);
  EXPECT_FALSE(b.try_admit(half + 5 * kSec + 2, &change));
  EXPECT_EQ(b.on_success(half + 6 * kSec), BreakerChange::Closed);
}

TEST(Breaker, ACoolDownOfZeroStillLimitsTrialsAtOneInstant) {
  CircuitBreaker b(config(3, 10 * kSec, 0, 2));
  open_at(b, kT0);
  int admitted = 0;
  for (int i = 0; i < 10; ++i)
    admitted += b.try_admit(kT0) ? 1 : 0;
  EXPECT_EQ(admitted, 2);
}

TEST(Breaker, ACoolDownEndsNeverEarlyAndAtMostAMicrosecondLate) {
  CircuitBreaker b(config(3, 10 * kSec, 5 * kSec));
  const ns_t opened = kT0 + 1;  // not on a microsecond
  open_at(b, opened);
  EXPECT_FALSE(b.try_admit(opened + 5 * kSec - 1));
  EXPECT_FALSE(b.try_admit(opened + 5 * kSec));  // rounded up to the next microsecond
  EXPECT_TRUE(b.try_admit(opened + 5 * kSec + hal::kNsPerUs - 1));
}

TEST(Breaker, ConfigErrorsNameTheField) {
  auto expect_rejected = [](const BreakerConfig& c, const std::string& field) {
    try {
      const CircuitBreaker b(c);
      ADD_FAILURE() << "accepted a bad " << field;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("sensor.read"), std::string::npos) << e.what();
    }
  };
  expect_rejected(config(0), "failure_threshold");
  expect_rejected(config(CircuitBreaker::kMaxFailureThreshold + 1), "failure_threshold");
  expect_rejected(config(3, 0), "window");
  expect_rejected(config(3, -kSec), "window");
  expect_rejected(config(3, kSec, -1), "cool_down");
  expect_rejected(config(3, kSec, kSec, 0), "half_open_trials");
  expect_rejected(config(3, kSec, kSec, CircuitBreaker::kMaxHalfOpenTrials + 1), "half_open_trials");

  EXPECT_NO_THROW(
      CircuitBreaker(config(CircuitBreaker::kMaxFailureThreshold, 1, 0, CircuitBreaker::kMaxHalfOpenTrials)));
  const CircuitBreaker b(config(7));
  EXPECT_EQ(b.config().type, "sensor.read");
  EXPECT_EQ(b.config().failure_threshold, 7U);
}

TEST(Breaker, Names) {
  EXPECT_EQ(rt::to_string(BreakerState::Closed), "closed");
  EXPECT_EQ(rt::to_string(BreakerState::Open), "open");
  EXPECT_EQ(rt::to_string(BreakerState::HalfOpen), "half_open");
  EXPECT_EQ(rt::to_string(BreakerChange::None), "none");
  EXPECT_EQ(rt::to_string(BreakerChange::Opened), "opened");
  EXPECT_EQ(rt::to_string(BreakerChange::HalfOpened), "half_opened");
  EXPECT_EQ(rt::to_string(BreakerChange::Closed), "closed");
}

// Runs body(i) on `n` threads released together.
void run_together(int n, const std::function<void(int)>& body) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < n)
        std::this_thread::yield();  // 4 threads may share 2 cores
      body(i);
    });
  }
  for (auto& t : threads)
    t.join();
}

constexpr int kThreads = 4;

TEST(Breaker, ConcurrentFailuresOpenItExactlyOnce) {
  constexpr int kEach = 2000;
  for (int round = 0; round < 20; ++round) {
    CircuitBreaker b(config(5));
    std::atomic<int> opened{0};
    std::atomic<int> other{0};
    run_together(kThreads, [&](int) {
      for (int i = 0; i < kEach; ++i) {
        const BreakerChange c = b.on_failure(kT0);
        if (c == BreakerChange::Opened) opened.fetch_add(1);
        if (c != BreakerChange::Opened && c != BreakerChange::None) other.fetch_add(1);
      }
    });
    ASSERT_EQ(opened.load(), 1) << "round " << round;
    ASSERT_EQ(other.load(), 0);
    const rt::BreakerStats s = b.stats();
    ASSERT_EQ(s.state, BreakerState::Open);
    ASSERT_EQ(s.failures, std::uint64_t{kThreads} * kEach);
    ASSERT_EQ(s.opened, 1U);
    ASSERT_EQ(s.opened_at, kT0);
  }
}

TEST(Breaker, ConcurrentAdmissionsWhileHalfOpenTakeExactlyTheTrials) {
  constexpr int kEach = 2000;
  constexpr std::uint32_t kTrials = 3;
  for (int round = 0; round < 20; ++round) {
    CircuitBreaker b(config(3, 10 * kSec, 5 * kSec, kTrials));
    open_at(b, kT0);
    std::atomic<int> admitted{0};
    std::atomic<int> half_opened{0};
    run_together(kThreads, [&](int) {
      for (int i = 0; i < kEach; ++i) {
        BreakerChange c = BreakerChange::None;
        if (b.try_admit(kT0 + 5 * kSec, &c)) admitted.fetch_add(1);
        if (c == BreakerChange::HalfOpened) half_opened.fetch_add(1);
      }
    });
    ASSERT_EQ(admitted.load(), static_cast<int>(kTrials)) << "round " << round;
    ASSERT_EQ(half_opened.load(), 1);
    ASSERT_EQ(b.state(), BreakerState::HalfOpen);
    ASSERT_EQ(b.stats().rejected, std::uint64_t{kThreads} * kEach - kTrials);
  }
}

TEST(Breaker, ConcurrentTrialResultsMakeExactlyOneTransition) {
  for (int round = 0; round < 50; ++round) {
    CircuitBreaker b(config(5, 10 * kSec, 5 * kSec, kThreads));
    open_at(b, kT0);
    for (int i = 0; i < kThreads; ++i)
      ASSERT_TRUE(b.try_admit(kT0 + 5 * kSec));
    std::array<BreakerChange, kThreads> changes{};
    // Two trials succeed and two fail; whichever reports first decides, and fewer than
    // five failures after a close cannot open it again.
    run_together(kThreads, [&](int i) {
      changes[static_cast<std::size_t>(i)] = i % 2 == 0 ? b.on_success(kT0 + 6 * kSec) : b.on_failure(kT0 + 6 * kSec);
    });
    int transitions = 0;
    for (BreakerChange c : changes)
      transitions += c != BreakerChange::None ? 1 : 0;
    ASSERT_EQ(transitions, 1) << "round " << round;
    const rt::BreakerStats s = b.stats();
    ASSERT_EQ(s.successes, 2U);
    ASSERT_EQ(s.failures, 5U + 2U);
    ASSERT_EQ(s.opened, s.state == BreakerState::Open ? 2U : 1U);
  }
}

}  // namespace
