// 4 producers x 2 workers x 10^6 tasks: every task runs exactly once. TSan runs it too.
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "engine_test_support.hpp"
#include "rt/engine.hpp"

namespace {

TEST(EngineStress, EveryTaskRunsExactlyOnce) {
  constexpr std::size_t kProducers = 4;
  constexpr std::size_t kTasks = 1'000'000;
  rt::EngineConfig c = testing_support::small_config(2);
  c.max_producers = kProducers;
  c.max_tasks = 8192;
  c.retain_completed = 64;
  c.ring_capacity = {1024, 1024, 1024, 1024, 1024};
  rt::Engine e(c);
  e.start();
  auto hits = std::make_unique<std::atomic<std::uint8_t>[]>(kTasks);
  std::atomic<std::uint64_t> refused{0};
  std::vector<std::thread> producers;
  producers.reserve(kProducers);
  for (std::size_t t = 0; t < kProducers; ++t) {
    producers.emplace_back([&, t, p = e.make_producer()]() mutable {
      for (std::size_t i = t; i < kTasks; i += kProducers) {
        auto* h = &hits[i];
        const auto pr = static_cast<rt::Priority>(i % rt::kClassCount);
        while (p.try_submit([h] { h->fetch_add(1, std::memory_order_relaxed); }, {.priority = pr}) !=
               rt::SubmitStatus::Ok) {
          refused.fetch_add(1, std::memory_order_relaxed);
          std::this_thread::yield();
        }
      }
    });
  }
  for (auto& t : producers)
    t.join();
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  std::size_t zero = 0, twice = 0;
  for (std::size_t i = 0; i < kTasks; ++i) {
    const auto n = hits[i].load();
    zero += n == 0;
    twice += n > 1;
  }
  EXPECT_EQ(zero, 0u);
  EXPECT_EQ(twice, 0u);
  EXPECT_TRUE(r.balanced);
  EXPECT_EQ(r.stats.submitted, kTasks);
  EXPECT_EQ(r.stats.completed, kTasks);
  EXPECT_EQ(r.stats.refused_transitions, 0u);
  EXPECT_EQ(r.stats.ring_allocations_refused, 0u);
  // Refusals are back-pressure, and each was counted as such.
  std::uint64_t counted = r.stats.no_free_slot;
  for (auto q : r.stats.queue_full)
    counted += q;
  EXPECT_EQ(counted, refused.load());
}

}  // namespace
