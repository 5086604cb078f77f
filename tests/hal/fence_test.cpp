// hal/fence.hpp: the asymmetric fence the engine's submit/stop handshake relies on.
#include "hal/fence.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "child.hpp"

namespace {

TEST(AsymmetricFence, RegistersAndFences) {
  const hal::Status s = hal::enable_asymmetric_fence();
  if (!s.ok())
    GTEST_SKIP() << "membarrier unavailable here: " << s.message() << " (the engine keeps its seq_cst entry)";
  EXPECT_TRUE(hal::heavy_fence().ok());
  hal::light_fence();
}

// Dekker on two flags, the light side on one thread and the heavy side on another: never
// may both sides miss the other's store. Both sides leave one shared starting line
// together each round, so their store->load windows overlap. Many rounds; a broken fence
// can pass by luck on a given machine (no StoreLoad reordering provoked), never fail
// spuriously: both missing is impossible with the fences right.
TEST(AsymmetricFence, DekkerNeverLetsBothSidesThrough) {
  if (!hal::enable_asymmetric_fence().ok()) GTEST_SKIP() << "membarrier unavailable here";
  constexpr int kRounds = 2000;
  std::atomic<int> round{0}, ready{0}, done{0};
  std::atomic<bool> light_flag{false}, heavy_flag{false};
  std::atomic<int> light_saw{-1};
  int both_missed = 0;
  std::thread light([&] {
    for (int r = 1; r <= kRounds; ++r) {
      ready.store(r, std::memory_order_release);
      while (round.load(std::memory_order_acquire) != r) {
      }
      light_flag.store(true, std::memory_order_relaxed);
      hal::light_fence();
      light_saw.store(heavy_flag.load(std::memory_order_relaxed) ? 1 : 0, std::memory_order_release);
      done.store(r, std::memory_order_release);
    }
  });
  for (int r = 1; r <= kRounds; ++r) {
    while (ready.load(std::memory_order_acquire) != r) {  // the light side waits at the line
    }
    light_flag.store(false);
    heavy_flag.store(false);
    light_saw.store(-1);
    round.store(r, std::memory_order_release);  // both go
    heavy_flag.store(true, std::memory_order_relaxed);
    ASSERT_TRUE(hal::heavy_fence().ok());
    const bool heavy_saw = light_flag.load(std::memory_order_relaxed);
    while (done.load(std::memory_order_acquire) != r) {
    }
    if (!heavy_saw && light_saw.load() == 0) ++both_missed;
  }
  light.join();
  EXPECT_EQ(both_missed, 0);
}

}  // namespace
