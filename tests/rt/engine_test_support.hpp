#pragma once
// Helpers for engine tests: a task that holds its worker until released, and a bounded
// wait for a condition (behaviour, never timing: the bound only turns a hang into a
// failure).
#include <gtest/gtest.h>

#include <algorithm>
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

// Stores `value` in `flag` when it goes out of scope. Declared after an engine, it lets a
// task that ignores its stop flag (a hang) return before the engine's destructor waits
// for it, whatever assertion ended the test early.
struct SetOnExit {
  std::atomic<bool>& flag;
  bool value;
  ~SetOnExit() { flag.store(value); }
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

// Events are published around the state changes they tell of, not atomically with them:
// drains until `want` holds for everything drained so far (or the bound passes).
template <class Want>
std::vector<rt::Event> events_until(rt::Engine& e, Want want) {
  std::vector<rt::Event> all;
  (void)eventually([&] {
    const auto more = drain_events(e);
    all.insert(all.end(), more.begin(), more.end());
    return want(all);
  });
  return all;
}

// How many events of `kind` there are, about anything.
inline std::size_t count_kind(const std::vector<rt::Event>& evs, rt::EventKind kind) {
  return static_cast<std::size_t>(
      std::count_if(evs.begin(), evs.end(), [kind](const rt::Event& ev) { return ev.kind == kind; }));
}

// How many events of `kind` are about `id` (a TaskId value, a periodic or worker index).
inline std::size_t count_events(const std::vector<rt::Event>& evs, rt::EventKind kind, std::uint64_t id) {
  std::size_t n = 0;
  for (const auto& ev : evs)
    n += ev.kind == kind && ev.id == id ? 1U : 0U;
  return n;
}

// An end is recorded in two steps: the state, then its reason and end time. A test that
// waits for an end and then reads them waits for both (under qemu the second step can
// come long after the first).
inline bool state_is(const rt::Engine& e, rt::TaskId id, rt::State s) {
  rt::TaskInfo info;
  return e.status(id, info) && info.state == s && (!rt::is_terminal(s) || info.finished != 0);
}

// The engine's verdict on a task whose deadline passed before a worker took it: it ended
// (TIMEOUT, then ROLLED_BACK when bound) for a missed deadline without ever starting.
// Spins (ignoring nothing: it returns when told to stop) for at most `limit`; records
// whether the stop request came.
inline auto spin_until_stopped(std::atomic<bool>& saw_stop, hal::ns_t limit = 20 * hal::kNsPerSec) {
  return [&saw_stop, limit](rt::TaskContext& ctx) {
    const hal::ns_t until = hal::now_ns() + limit;
    while (!ctx.stop_requested() && hal::now_ns() < until) {
    }
    saw_stop.store(ctx.stop_requested());
  };
}

inline bool missed_before_start(const rt::TaskInfo& i) {
  return rt::is_terminal(i.state) && i.reason == rt::Reason::DeadlineMissed && i.started == 0;
}
inline bool missed_before_start(const rt::Engine& e, rt::TaskId id) {
  rt::TaskInfo info;
  return e.status(id, info) && missed_before_start(info);
}

// A task that must be running when its deadline passes (to be caught by the monitor, to
// overrun, to hang) is given that deadline before it starts, and a loaded machine (TSan
// under ctest -j2, qemu-user) can delay its start past any fixed margin; the engine then
// never starts it. Likewise a delayed start must still be ahead when its submission
// returns. So the margin follows the machine: `scenario(margin, too_late)` runs with
// 25 ms, and again with twice the margin each time it sets `too_late` (having checked
// nothing yet), up to 1.6 s. A fatal failure inside ends the attempts.
inline constexpr hal::ns_t kFirstStartMargin = 25 * hal::kNsPerMs;
inline constexpr int kStartMarginAttempts = 7;  // 25 ms .. 1.6 s
template <class Scenario>
void with_start_margin(Scenario&& scenario, const char* what = "the task never started before its deadline") {
  hal::ns_t margin = kFirstStartMargin;
  for (int attempt = 0; attempt < kStartMarginAttempts; ++attempt, margin *= 2) {
    bool too_late = false;
    scenario(margin, too_late);
    if (::testing::Test::HasFatalFailure() || !too_late) return;
  }
  ADD_FAILURE() << what << ", even with a margin of " << margin / 2 / hal::kNsPerMs << " ms";
}

// A task that ignores its stop flag while `hang` holds: a real hang.
inline auto hang_while(std::atomic<bool>& hang) {
  return [&hang] {
    while (hang.load())
      std::this_thread::sleep_for(std::chrono::microseconds(100));
  };
}

// Makes one worker of a started engine STALLED for real: submits hang_while(hang) through
// `p` with a deadline that must pass while it runs (past it by monitor.stall_after, the
// worker stalls), with_start_margin's doubling margin inside one engine (a start after
// the deadline never runs it). True once a worker is STALLED; it stays so until `hang` is
// cleared (declare a SetOnExit after the engine).
inline bool stall_a_worker(rt::Engine& e, rt::Producer& p, std::atomic<bool>& hang) {
  hal::ns_t margin = kFirstStartMargin;
  for (int i = 0; i < kStartMarginAttempts; ++i, margin *= 2) {
    rt::TaskId id;
    if (p.try_submit(hang_while(hang), {.deadline_in = margin}, &id) != rt::SubmitStatus::Ok) return false;
    if (!eventually([&] { return e.health().stalled_workers == 1 || missed_before_start(e, id); })) return false;
    if (e.health().stalled_workers == 1) return true;
  }
  return false;
}

// The q-quantile of `v` (q in [0, 1]; the element at rank floor(q * (n - 1)) in order);
// 0 when empty. A lateness that shifts a whole run (a drift, a loop stuck behind) moves its
// low quantiles as much as its median, while a busy machine (a worker descheduled, then
// catching up) mostly fattens the upper part: checks of the shift use a low quantile.
inline hal::ns_t quantile(std::vector<hal::ns_t> v, double q) {
  if (v.empty()) return 0;
  const auto at = v.begin() + static_cast<std::ptrdiff_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), at, v.end());
  return *at;
}

}  // namespace testing_support
