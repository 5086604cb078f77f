#pragma once
// Helpers for engine tests: a task that holds its worker until released, and a bounded
// wait for a condition (behaviour, never timing: the bound only turns a hang into a
// failure).
#include <atomic>
#include <thread>

#include "hal/clock.hpp"
#include "rt/engine.hpp"

namespace testing_support {

template <class Pred>
bool eventually(Pred pred, hal::ns_t limit = 30 * hal::kNsPerSec) {
  const hal::ns_t until = hal::now_ns() + limit;
  while (!pred()) {
    if (hal::now_ns() > until) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

// Occupies a worker until release() (or until the engine asks it to stop).
struct Blocker {
  std::atomic<bool> started{false};
  std::atomic<bool> released{false};

  auto task() {
    return [this](rt::TaskContext& ctx) {
      started.store(true);
      while (!released.load() && !ctx.stop_requested())
        std::this_thread::yield();
    };
  }
  void release() { released.store(true); }

  // Submits the blocking task and waits until a worker runs it.
  bool hold(rt::Producer& p, rt::Priority pr = rt::Priority::Normal) {
    return p.try_submit(task(), {.priority = pr}) == rt::SubmitStatus::Ok &&
           eventually([this] { return started.load(); });
  }
};

inline rt::EngineConfig small_config(std::size_t workers = 1) {
  rt::EngineConfig c;
  c.workers.assign(workers, rt::WorkerConfig{});
  c.lock_memory = false;  // the unit tests share one process; one test locks on purpose
  c.max_tasks = 1024;
  c.ring_capacity = {256, 256, 256, 256, 256};
  c.retain_completed = 512;
  return c;
}

inline bool state_is(const rt::Engine& e, rt::TaskId id, rt::State s) {
  rt::TaskInfo info;
  return e.status(id, info) && info.state == s;
}

}  // namespace testing_support
