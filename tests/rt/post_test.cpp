// Producer::try_post and try_post_batch: fire-and-forget callables in their class's post
// ring, under the class rule, bounded, counted, drained or dropped by stop().
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine_test_support.hpp"
#include "rt/engine.hpp"

namespace {

using rt::Priority;
using rt::SubmitStatus;
using testing_support::Blocker;
using testing_support::eventually;
using testing_support::small_config;

constexpr auto kNormal = static_cast<std::size_t>(Priority::Normal);

rt::EngineConfig post_config(std::size_t workers = 1, std::size_t capacity = 256) {
  rt::EngineConfig c = small_config(workers);
  c.post_capacity.fill(capacity);
  return c;
}

TEST(Post, RunsOnceAndIsCountedWithTheTasks) {
  rt::Engine e(post_config());
  e.start();
  rt::Producer p = e.make_producer();
  std::atomic<int> ran{0};
  std::atomic<int> worker{-2};
  std::atomic<bool> no_id{false};
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(p.try_post([&] { ran++; }), SubmitStatus::Ok);
  ASSERT_EQ(p.try_post([&](rt::TaskContext& ctx) {
    worker.store(ctx.worker());
    no_id.store(!ctx.id().valid() && ctx.context().user_id == 0 && !ctx.stop_requested());
  }),
            SubmitStatus::Ok);
  ASSERT_EQ(p.try_submit([&] { ran++; }), SubmitStatus::Ok);
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_EQ(ran.load(), 101);
  EXPECT_EQ(worker.load(), 0);
  EXPECT_TRUE(no_id.load());
  EXPECT_TRUE(r.balanced);
  EXPECT_EQ(r.stats.submitted, 102U);
  EXPECT_EQ(r.stats.posted, 101U);
  EXPECT_EQ(r.stats.completed, 102U);
  EXPECT_EQ(r.stats.retained, 1U);  // the task: a post has no slot to keep
  ASSERT_EQ(r.stats.workers.size(), 1U);
  EXPECT_EQ(r.stats.workers[0].tasks_done, 102U);
  EXPECT_GT(r.stats.workers[0].busy_ns, 0);
}

TEST(Post, TakesTheHighestClassFirstAndTakesTurnsWithTasks) {
  rt::Engine e(post_config());
  e.start();
  rt::Producer p = e.make_producer();
  Blocker b;
  ASSERT_TRUE(b.hold(p, Priority::Critical));
  std::mutex mu;
  std::vector<int> order;  // class * 2 + (1 for a post)
  auto note = [&](int v) {
    std::lock_guard lock(mu);
    order.push_back(v);
  };
  const Priority mix[] = {Priority::Low, Priority::Background, Priority::Normal, Priority::Critical, Priority::High};
  for (int round = 0; round < 6; ++round) {
    for (Priority pr : mix) {
      const int k = static_cast<int>(pr);
      ASSERT_EQ(p.try_submit([&note, k] { note(2 * k); }, {.priority = pr}), SubmitStatus::Ok);
      ASSERT_EQ(p.try_post([&note, k] { note(2 * k + 1); }, pr), SubmitStatus::Ok);
    }
  }
  b.release();
  ASSERT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  ASSERT_EQ(order.size(), 60U);
  for (std::size_t i = 1; i < order.size(); ++i) {
    EXPECT_LE(order[i - 1] / 2, order[i] / 2) << "a lower class ran before a higher one at " << i;
    if (order[i - 1] / 2 == order[i] / 2) {
      EXPECT_NE(order[i - 1] % 2, order[i] % 2) << "a task or a post ran twice in a row in its class at " << i;
    }
  }
}

// A worker streaming posts takes several at once from a deep ring; a higher class still
// goes first: a CRITICAL task submitted by the second post runs before the posts the
// worker took with it.
TEST(Post, PostsTakenTogetherStillLetAHigherClassFirst) {
  rt::EngineConfig c = post_config();
  c.max_producers = 2;
  rt::Engine e(c);
  e.start();
  rt::Producer p = e.make_producer();
  rt::Producer from_worker = e.make_producer();  // used by the posts, on the worker's thread
  Blocker b;
  ASSERT_TRUE(b.hold(p, Priority::Critical));
  std::mutex mu;
  std::vector<int> order;  // post index, or -1 for the CRITICAL task
  auto note = [&](int v) {
    std::lock_guard lock(mu);
    order.push_back(v);
  };
  std::atomic<int> refused{0};
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(p.try_post(
                  [&, i] {
                    note(i);
                    if (i != 1) return;
                    const SubmitStatus st = from_worker.try_submit([&] { note(-1); }, {.priority = Priority::Critical});
                    if (st != SubmitStatus::Ok) refused = 10 + static_cast<int>(st);
                  },
                  Priority::Low),
              SubmitStatus::Ok);
  }
  b.release();
  ASSERT_TRUE(eventually([&] { return e.in_flight() == 0; }));  // before stop() refuses the CRITICAL task
  ASSERT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  EXPECT_EQ(refused.load(), 0);
  ASSERT_EQ(order.size(), 41U);
  EXPECT_EQ(order[0], 0);
  EXPECT_EQ(order[1], 1);
  EXPECT_EQ(order[2], -1) << "the CRITICAL task waited for posts taken before it came";
  for (std::size_t i = 3; i < order.size(); ++i)
    EXPECT_EQ(order[i], static_cast<int>(i) - 1);
}

TEST(Post, RefusesBeyondCapacityAndWhereNoRingIsConfigured) {
  rt::EngineConfig c = post_config(1, 8);
  c.post_capacity[static_cast<std::size_t>(Priority::Low)] = 0;
  rt::Engine e(c);
  rt::Producer p = e.make_producer();
  EXPECT_EQ(p.try_post([] {}), SubmitStatus::Stopped);
  e.start();
  Blocker b;
  ASSERT_TRUE(b.hold(p, Priority::Critical));
  for (int i = 0; i < 8; ++i)
    ASSERT_EQ(p.try_post([] {}), SubmitStatus::Ok) << i;
  EXPECT_EQ(p.try_post([] {}), SubmitStatus::QueueFull);
  EXPECT_EQ(p.try_post([] {}, Priority::Low), SubmitStatus::Invalid);
  EXPECT_EQ(rt::Producer{}.try_post([] {}), SubmitStatus::Invalid);
  rt::Stats s = e.stats();
  EXPECT_EQ(s.queue_full[kNormal], 1U);
  EXPECT_EQ(s.queue_depth[kNormal], 8);
  EXPECT_EQ(s.invalid, 1U);
  EXPECT_EQ(e.in_flight(), 9U);  // the blocker and the posts
  b.release();
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_TRUE(r.balanced);
  EXPECT_EQ(r.stats.completed, 9U);
  EXPECT_EQ(p.try_post([] {}), SubmitStatus::Stopped);
}

// The arena is sized for post rings too: with the default producers, a full ring of the
// default size, in batches, is never refused by the queue under it.
TEST(Post, ADefaultSizedRingTakesItsWholeCapacity) {
  rt::EngineConfig c = small_config();
  c.post_capacity.fill(1024);
  rt::Engine e(c);
  e.start();
  rt::Producer p = e.make_producer();
  Blocker b;
  ASSERT_TRUE(b.hold(p, Priority::Critical));
  auto fn = [] {};
  const std::vector<decltype(fn)> fns(1000, fn);
  EXPECT_EQ(p.try_post_batch(fns.begin(), fns.end(), Priority::Low), 1000U);
  for (int i = 0; i < 24; ++i)
    ASSERT_EQ(p.try_post(fn, Priority::Low), SubmitStatus::Ok) << i;
  EXPECT_EQ(p.try_post(fn, Priority::Low), SubmitStatus::QueueFull);
  b.release();
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_TRUE(r.balanced);
  EXPECT_EQ(r.stats.completed, 1025U);
  EXPECT_EQ(r.stats.ring_push_refusals, 0U);
  EXPECT_EQ(r.stats.ring_allocations_refused, 0U);
}

TEST(Post, BatchStopsWhereTheRingFills) {
  rt::Engine e(post_config(1, 40));
  e.start();
  rt::Producer p = e.make_producer();
  Blocker b;
  ASSERT_TRUE(b.hold(p, Priority::Critical));
  std::atomic<int> ran{0};
  auto inc = [&ran] { ran++; };
  std::vector<decltype(inc)> fns(100, inc);
  EXPECT_EQ(p.try_post_batch(fns.begin(), fns.end()), 40U);
  EXPECT_EQ(p.try_post_batch(fns.begin(), fns.end()), 0U);
  EXPECT_EQ(e.stats().queue_full[kNormal], 2U);  // once per refused batch
  b.release();
  ASSERT_TRUE(eventually([&] { return ran.load() == 40; }));
  EXPECT_EQ(p.try_post_batch(fns.begin(), fns.begin() + 5, Priority::High), 5U);
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_EQ(ran.load(), 45);
  EXPECT_TRUE(r.balanced);
  EXPECT_EQ(r.stats.posted, 45U);
}

// As the task rings: racing producers, singly and in batches, never get more places than
// the capacity, and get all of them.
TEST(Post, RacingProducersGetExactlyTheCapacity) {
  constexpr std::size_t kCap = 100;
  rt::EngineConfig c = post_config(1, kCap);
  c.max_producers = 5;
  rt::Engine e(c);
  e.start();
  rt::Producer main = e.make_producer();
  Blocker b;
  ASSERT_TRUE(b.hold(main, Priority::Critical));
  std::atomic<std::size_t> ok{0};
  std::vector<std::thread> producers;
  producers.reserve(4);
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&, t, prod = e.make_producer()]() mutable {
      for (int i = 0; i < 40; ++i) {
        if (t % 2 == 0) {
          ok += prod.try_post([] {}) == SubmitStatus::Ok ? 1 : 0;
        } else {
          auto fn = [] {};
          const std::array<decltype(fn), 7> fns{fn, fn, fn, fn, fn, fn, fn};
          ok += prod.try_post_batch(fns.begin(), fns.end());
        }
      }
    });
  }
  for (auto& t : producers)
    t.join();
  EXPECT_EQ(ok.load(), kCap);
  EXPECT_EQ(e.stats().queue_depth[kNormal], static_cast<std::int64_t>(kCap));
  b.release();
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_TRUE(r.balanced);
  EXPECT_EQ(r.stats.completed, kCap + 1);
  EXPECT_EQ(r.stats.ring_allocations_refused, 0U);
}

TEST(Post, StopCancelDropsQueuedPostsAndAsksARunningOneToStop) {
  rt::Engine e(post_config());
  e.start();
  rt::Producer p = e.make_producer();
  std::atomic<bool> started{false}, saw_stop{false};
  ASSERT_EQ(p.try_post([&](rt::TaskContext& ctx) {
    started.store(true);
    while (!ctx.stop_requested())
      std::this_thread::yield();
    saw_stop.store(true);
  }),
            SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return started.load(); }));
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(p.try_post([&] { ran++; }, Priority::Low), SubmitStatus::Ok);
  const rt::StopReport r = e.stop(rt::StopMode::Cancel);  // would hang if the request missed it
  EXPECT_TRUE(saw_stop.load());
  EXPECT_EQ(ran.load(), 0);
  EXPECT_EQ(r.stats.cancelled, 10U);
  EXPECT_EQ(r.stats.completed, 1U);
  EXPECT_TRUE(r.balanced);
  // A new start runs posts again and does not ask them to stop.
  e.start();
  std::atomic<bool> asked{true};
  ASSERT_EQ(p.try_post([&](rt::TaskContext& ctx) { asked.store(ctx.stop_requested()); }), SubmitStatus::Ok);
  ASSERT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  EXPECT_FALSE(asked.load());
}

TEST(Post, AnExceptionFailsThePostNotTheEngine) {
  rt::Engine e(post_config());
  e.start();
  rt::Producer p = e.make_producer();
  std::atomic<int> ran{0};
  ASSERT_EQ(p.try_post([] { throw std::runtime_error("post"); }), SubmitStatus::Ok);
  ASSERT_EQ(p.try_post([&] { ran++; }), SubmitStatus::Ok);
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(r.stats.failed, 1U);
  EXPECT_EQ(r.stats.exceptions, 1U);
  EXPECT_EQ(r.stats.completed, 1U);
  EXPECT_TRUE(r.balanced);
}

// Many posts from several threads over two workers and every class: each runs once, a
// drain leaves nothing behind, and sleeping workers are always woken (a missed wake-up
// would leave posts queued until the drain, which the count before it catches).
TEST(Post, ManyProducersAndWorkersLoseNothing) {
  rt::EngineConfig c = post_config(2, 64);
  c.max_producers = 4;
  rt::Engine e(c);
  e.start();
  std::atomic<std::uint64_t> ran{0}, accepted{0};
  std::vector<std::thread> producers;
  producers.reserve(3);
  for (int t = 0; t < 3; ++t) {
    producers.emplace_back([&, t, prod = e.make_producer()]() mutable {
      auto inc = [&ran] { ran++; };
      const std::array<decltype(inc), 5> fns{inc, inc, inc, inc, inc};
      for (int i = 0; i < 4000; ++i) {
        const auto pr = static_cast<Priority>((i + t) % 5);
        if (i % 3 == 0) {
          accepted += prod.try_post_batch(fns.begin(), fns.end(), pr);
        } else if (prod.try_post(inc, pr) == SubmitStatus::Ok) {
          accepted++;
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
  for (auto& t : producers)
    t.join();
  ASSERT_TRUE(eventually([&] { return ran.load() == accepted.load(); }));
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_TRUE(r.balanced);
  EXPECT_EQ(r.stats.posted, accepted.load());
  EXPECT_EQ(r.stats.completed, accepted.load());
}

TEST(Post, ConfigRejectsAHugeCapacity) {
  rt::EngineConfig c = small_config();
  c.post_capacity[kNormal] = (1U << 20) + 1;
  EXPECT_THROW(rt::validate(c), std::invalid_argument);
}

}  // namespace
