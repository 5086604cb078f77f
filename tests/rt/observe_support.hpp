#pragma once
// A short mixed run for the log and trace tests (F22, F23): a periodic loop on a worker of
// its own, and one-shot tasks that complete, fail (throw) and time out. Whether the
// timed-out task starts before its deadline depends on the machine; either way it ends in
// TIMEOUT, so the tests only rely on that.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "engine_test_support.hpp"
#include "rt/engine.hpp"
#include "rt/event_bus.hpp"

namespace observe_support {

// Worker 0 runs the loop only: a spinning one-shot task cannot hold up its releases.
inline rt::EngineConfig mixed_config() {
  rt::EngineConfig c = testing_support::small_config(2);
  c.workers[0].classes = 0;
  c.task_types = {"task", "sensor", "flaky"};
  return c;
}

// The bus keeps no history: its interest is then exactly its subscribers' kinds.
inline rt::EventBusConfig quiet_bus() { return {.history = 0, .history_kinds = 0}; }

// Adds the loop "pid" (type "sensor", every 2 ms on worker 0); returns its index.
inline int add_loop(rt::Engine& e) {
  return e.add_periodic({.name = "pid", .period = 2 * hal::kNsPerMs, .worker = 0, .type = 1}, [] {});
}

// Starts the bus, the engine and the loop; submits three tasks that complete, one that
// throws and one that times out; waits until they ended and the loop ran `runs` times
// (per `runs_seen`), then stops the loop and the engine (Drain) and flushes the bus.
template <class RunsSeen>
void run_mixed(rt::Engine& e, rt::EventBus& bus, int loop, RunsSeen runs_seen, std::uint64_t runs = 5) {
  bus.start();
  e.start();
  ASSERT_TRUE(e.start_periodic(loop));
  rt::Producer p = e.make_producer();
  for (int i = 0; i < 3; ++i)
    // Asleep 100 us at least: the execution time the outcome carries is never 0.
    ASSERT_EQ(p.try_submit([] { std::this_thread::sleep_for(std::chrono::microseconds(100)); }), rt::SubmitStatus::Ok);
  ASSERT_EQ(p.try_submit([] { throw std::runtime_error("boom"); }, {.type = 2}), rt::SubmitStatus::Ok);
  static std::atomic<bool> saw_stop{false};
  ASSERT_EQ(p.try_submit(testing_support::spin_until_stopped(saw_stop), {.type = 2, .deadline_in = 20 * hal::kNsPerMs}),
            rt::SubmitStatus::Ok);
  ASSERT_TRUE(testing_support::eventually([&] { return e.in_flight() == 0 && runs_seen() >= runs; }));
  ASSERT_TRUE(e.stop_periodic(loop));
  (void)e.stop(rt::StopMode::Drain);
  bus.flush();
}

}  // namespace observe_support
