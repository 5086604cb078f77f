#pragma once
// Helpers for engine tests: a task that holds its worker until released, and a bounded
// wait for a condition (behaviour, never timing: the bound only turns a hang into a
// failure).
#include <atomic>
#include <thread>
#include <vector>

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

// Every event the engine holds now, oldest first (the test is the one consumer).
inline std::vector<rt::Event> drain_events(rt::Engine& e) {
  std::vector<rt::Event> out;
  rt::Event buf[64];
  for (std::size_t n; (n = e.poll_events(buf, 64)) > 0;)
    out.insert(out.end(), buf, buf + n);
  return out;
}

// How many events of `kind` are about `id` (a TaskId value, a periodic or worker index).
inline std::size_t count_events(const std::vector<rt::Event>& evs, rt::EventKind kind, std::uint64_t id) {
  std::size_t n = 0;
  for (const auto& ev : evs)
    n += ev.kind == kind && ev.id == id ? 1U : 0U;
  return n;
}

inline bool state_is(const rt::Engine& e, rt::TaskId id, rt::State s) {
  rt::TaskInfo info;
  return e.status(id, info) && info.state == s;
}

}  // namespace testing_support
