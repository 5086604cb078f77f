// F8: the deadline monitor (misses caught while the task runs, stalls and their
// escalation, both timer backends) and the delayed starts it releases (F2/F3).
// Behaviour only: deadlines are far apart from what the tasks do, so a noisy machine
// changes when things happen, never what happens.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "child.hpp"
#include "engine_test_support.hpp"
#include "rt/engine.hpp"
#include "worker_state.hpp"

using namespace std::chrono_literals;
using testing_support::Blocker;
using testing_support::count_events;
using testing_support::drain_events;
using testing_support::events_until;
using testing_support::eventually;
using testing_support::missed_before_start;
using testing_support::SetOnExit;
using testing_support::small_config;
using testing_support::spin_until_stopped;
using testing_support::state_is;
using testing_support::with_start_margin;

namespace {

constexpr hal::ns_t kMs = hal::kNsPerMs;

void monitor_catches_a_running_miss(hal::TimerBackend backend) {
  with_start_margin([&](hal::ns_t margin, bool& started_late) {
    rt::EngineConfig c = small_config();
    c.monitor.backend = backend;
    rt::Engine e(c);
    e.start();
    rt::Producer p = e.make_producer();
    std::atomic<bool> saw_stop{false};
    rt::TaskId id;
    ASSERT_EQ(p.try_submit(spin_until_stopped(saw_stop), {.deadline_in = margin}, &id), rt::SubmitStatus::Ok);
    ASSERT_TRUE(eventually([&] { return saw_stop.load() || missed_before_start(e, id); }));
    if (!saw_stop.load()) {
      started_late = true;
      return;
    }
    ASSERT_TRUE(eventually([&] { return e.stats().running == 0; }));
    EXPECT_TRUE(state_is(e, id, rt::State::Timeout));
    rt::TaskInfo info;
    ASSERT_TRUE(e.status(id, info));
    EXPECT_EQ(info.reason, rt::Reason::DeadlineMissed);
    // The counts and the events follow the state change (TSan once read timed_out
    // counted and deadline_misses not yet): wait for them, then check them exactly.
    (void)eventually([&] {
      const rt::Stats s = e.stats();
      return s.timed_out == 1 && s.deadline_misses == 1 && s.detected_by_monitor == 1;
    });
    const rt::Stats s = e.stats();
    EXPECT_EQ(s.timed_out, 1U);
    EXPECT_EQ(s.deadline_misses, 1U);
    EXPECT_EQ(s.detected_by_monitor, 1U);
    EXPECT_EQ(s.completed, 0U);
    const rt::HistogramSnapshot d = e.detection_latency();
    EXPECT_EQ(d.count(), 1U);
    const auto evs = events_until(e, [&](const std::vector<rt::Event>& all) {
      return count_events(all, rt::EventKind::DeadlineMiss, id.value()) >= 1 &&
             count_events(all, rt::EventKind::Timeout, id.value()) >= 1;
    });
    EXPECT_EQ(count_events(evs, rt::EventKind::DeadlineMiss, id.value()), 1U);
    // The latency is measured from the task's own deadline: detection time minus deadline,
    // the same value in the event and in the histogram (whose min and max are exact).
    for (const auto& ev : evs) {
      if (ev.kind != rt::EventKind::DeadlineMiss) continue;
      EXPECT_EQ(ev.at - ev.value, info.deadline);
      EXPECT_EQ(d.max(), ev.value);
    }
    EXPECT_EQ(count_events(evs, rt::EventKind::Timeout, id.value()), 1U);
    EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  });
}

}  // namespace

TEST(Monitor, CatchesAMissWhileTheTaskRunsAndSetsItsStopFlag) {
  monitor_catches_a_running_miss(hal::TimerBackend::TimerFd);
}

TEST(Monitor, IoUringBackendCatchesTheSameMissOrFallsBackToTimerfd) {
  const hal::UringSupport u = hal::probe_io_uring();
  {
    rt::EngineConfig c = small_config();
    c.monitor.backend = hal::TimerBackend::IoUring;
    rt::Engine e(c);
    EXPECT_EQ(e.monitor_backend(), u.usable ? hal::TimerBackend::IoUring : hal::TimerBackend::TimerFd) << u.reason;
  }
  monitor_catches_a_running_miss(hal::TimerBackend::IoUring);
}

// A task the worker takes just before its deadline and makes RUNNING just after it: the
// monitor, woken at the deadline, finds it still READY and drops the deadline; the
// worker's start must then wake it (execute's poke_monitor), or the task overruns
// unwatched and is never asked to stop. Deadlines swept across the start's latency, so
// some starts land in that instant (before the fix, natively, a run of 1000 hit it about
// every other time); the bound is only "never" (an unwatched overrun gives up after it),
// not a timing.
TEST(Monitor, OverrunStartedAsItsDeadlinePassesIsStillStopped) {
  constexpr hal::ns_t kNever = 10 * hal::kNsPerSec;
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  int started = 0;
  for (int i = 0; i < 3000; ++i) {
    std::atomic<int> outcome{0};  // 1 stopped, 2 gave up unstopped
    auto overrun = [&outcome](rt::TaskContext& ctx) {
      const hal::ns_t until = hal::now_ns() + kNever;
      while (!ctx.stop_requested() && hal::now_ns() < until) {
      }
      outcome.store(ctx.stop_requested() ? 1 : 2);
    };
    rt::TaskId id;
    const hal::ns_t deadline_in = (1 + i % 64) * hal::kNsPerUs;
    ASSERT_EQ(p.try_submit(overrun, {.deadline_in = deadline_in}, &id), rt::SubmitStatus::Ok);
    rt::TaskInfo info;
    ASSERT_TRUE(eventually([&] { return e.status(id, info) && rt::is_terminal(info.state); }, 2 * kNever));
    if (info.started == 0) continue;  // taken after its deadline: dropped unrun
    ++started;
    ASSERT_TRUE(eventually([&] { return outcome.load() != 0; }));
    ASSERT_EQ(outcome.load(), 1) << "task " << i << " (deadline_in " << deadline_in / hal::kNsPerUs
                                 << " us) ran unwatched past its deadline";
  }
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  RecordProperty("started", started);
  // Under an emulator or a sanitizer most starts come after 1-64 us: then the window was
  // hardly reached, and passing says little.
  if (started < 300) GTEST_SKIP() << "only " << started << " of 3000 tasks started before their deadline";
}

// The monitor looks at a run kMonitorLookAhead before its deadline (so that a periodic
// run's deadline, its next release, passes without a wake-up) and sleeps on to the
// deadline when the run is still going: the stop must never come before the deadline.
TEST(Monitor, LooksAheadOfADeadlineButNeverFlagsBeforeIt) {
  with_start_margin([&](hal::ns_t margin, bool& started_late) {
    rt::EngineConfig c = small_config();
    // A beat well inside the deadline: the monitor scans while the task runs, before its
    // look, so the look path is the one taken (else the heap's exact deadline could be).
    c.monitor.beat = rt::detail::kMonitorLookAhead;
    rt::Engine e(c);
    e.start();
    rt::Producer p = e.make_producer();
    std::atomic<hal::ns_t> stopped_at{0};
    rt::TaskId id;
    // Long enough that several beats and the look come after the start.
    const hal::ns_t deadline_in = std::max(margin, 20 * rt::detail::kMonitorLookAhead);
    ASSERT_EQ(p.try_submit(
                  [&stopped_at](rt::TaskContext& ctx) {
                    const hal::ns_t until = hal::now_ns() + 20 * hal::kNsPerSec;
                    while (!ctx.stop_requested() && hal::now_ns() < until) {
                    }
                    stopped_at.store(ctx.stop_requested() ? hal::now_ns() : 0);
                  },
                  {.deadline_in = deadline_in}, &id),
              rt::SubmitStatus::Ok);
    ASSERT_TRUE(eventually([&] { return stopped_at.load() != 0 || missed_before_start(e, id); }));
    if (stopped_at.load() == 0) {
      started_late = true;
      return;
    }
    rt::TaskInfo info;
    ASSERT_TRUE(e.status(id, info));
    EXPECT_GE(stopped_at.load(), info.deadline) << "stopped " << info.deadline - stopped_at.load() << " ns early";
    EXPECT_GE(e.detection_latency().min(), 0);
    EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  });
}

// Where the monitor looks: half the relative deadline ahead at most kMonitorLookAhead,
// at the deadline itself once that point has passed, never after it.
TEST(MonitorLook, AheadOfTheDeadlineNeverAfterIt) {
  using rt::detail::kMonitorLookAhead;
  using rt::detail::look_ahead;
  using rt::detail::look_at;
  EXPECT_EQ(look_ahead(0), 0);
  EXPECT_EQ(look_ahead(-5), 0);
  EXPECT_EQ(look_ahead(40'000), 20'000);
  EXPECT_EQ(look_ahead(2 * kMonitorLookAhead), kMonitorLookAhead);
  EXPECT_EQ(look_ahead(hal::kNsPerSec), kMonitorLookAhead);
  const hal::ns_t d = 10 * kMs;
  EXPECT_EQ(look_at(d, kMonitorLookAhead, 0), d - kMonitorLookAhead);
  EXPECT_EQ(look_at(d, kMonitorLookAhead, d - kMonitorLookAhead - 1), d - kMonitorLookAhead);
  EXPECT_EQ(look_at(d, kMonitorLookAhead, d - kMonitorLookAhead), d) << "the look is due: now the deadline";
  EXPECT_EQ(look_at(d, kMonitorLookAhead, d - 1), d);
  EXPECT_EQ(look_at(d, 0, 0), d);
}

TEST(Monitor, TaskThatMeetsItsDeadlineIsNotFlagged) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  std::atomic<int> ran{0};
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(p.try_submit([&] { ran.fetch_add(1); }, {.deadline_in = 10 * hal::kNsPerSec}), rt::SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return ran.load() == 50 && e.stats().running == 0; }));
  const rt::Stats s = e.stats();
  EXPECT_EQ(s.completed, 50U);
  EXPECT_EQ(s.deadline_misses, 0U);
  EXPECT_EQ(s.detected_by_monitor, 0U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Monitor, HungTaskStallsItsWorkerWhichIsNoLongerFedAndRecovers) {
  with_start_margin([](hal::ns_t margin, bool& started_late) {
    std::atomic<bool> hang{true};
    rt::EngineConfig c = small_config(2);
    c.monitor.stall_after = 20 * kMs;
    rt::Engine e(c);
    const SetOnExit unhang{hang, false};
    e.start();
    rt::Producer p = e.make_producer();
    rt::TaskId id;
    auto hung = [&hang] {  // ignores its stop flag: a real hang
      while (hang.load())
        std::this_thread::sleep_for(100us);
    };
    ASSERT_EQ(p.try_submit(hung, {.deadline_in = margin}, &id), rt::SubmitStatus::Ok);
    ASSERT_TRUE(eventually([&] { return e.stats().stalls == 1 || missed_before_start(e, id); }));
    if (e.stats().stalls == 0) {
      started_late = true;
      return;
    }
    rt::TaskInfo info;
    ASSERT_TRUE(e.status(id, info));
    ASSERT_GE(info.worker, 0);
    EXPECT_EQ(e.stats().workers[static_cast<std::size_t>(info.worker)].state, rt::WorkerState::Stalled);
    EXPECT_EQ(e.health().stalled_workers, 1);  // what a watchdog reads (rtengine run's service rule)
    EXPECT_EQ(e.health().first_stalled, info.worker);
    EXPECT_EQ(info.state, rt::State::Timeout);
    // The other worker keeps the engine going.
    std::atomic<int> ran{0};
    for (int i = 0; i < 20; ++i)
      ASSERT_EQ(p.try_submit([&] { ran.fetch_add(1); }), rt::SubmitStatus::Ok);
    ASSERT_TRUE(eventually([&] { return ran.load() == 20; }));
    hang.store(false);
    ASSERT_TRUE(eventually([&] { return e.stats().running == 0; }));
    const auto evs = drain_events(e);
    std::size_t stalled = 0, recovered = 0;
    for (const auto& ev : evs) {
      stalled += ev.kind == rt::EventKind::WorkerStalled && ev.worker == info.worker ? 1 : 0;
      recovered += ev.kind == rt::EventKind::WorkerRecovered && ev.worker == info.worker ? 1 : 0;
    }
    EXPECT_EQ(stalled, 1U);
    EXPECT_EQ(recovered, 1U);
    EXPECT_NE(e.stats().workers[static_cast<std::size_t>(info.worker)].state, rt::WorkerState::Stalled);
    EXPECT_EQ(e.health().stalled_workers, 0);
    EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  });
}

// With a beat, the monitor goes round its loop that often with nothing to watch, so a
// watchdog can tell an idle monitor from a stuck one (Engine::health).
TEST(Monitor, BeatsWhileIdleSoAWatchdogCanTellItIsAlive) {
  rt::EngineConfig c = small_config();
  c.monitor.beat = rt::Engine::kMonitorBeat;
  rt::Engine e(c);
  EXPECT_FALSE(e.health().running);
  e.start();
  const rt::Health first = e.health();
  EXPECT_TRUE(first.running);
  EXPECT_GT(first.monitor_beat, 0);
  EXPECT_EQ(first.stalled_workers, 0);
  EXPECT_EQ(first.first_stalled, -1);
  EXPECT_EQ(first.monitor_beat_every, rt::Engine::kMonitorBeat);
  // No task, no deadline, no periodic work: only the beat can wake it.
  EXPECT_TRUE(eventually([&] { return e.health().monitor_beat >= first.monitor_beat + 2 * rt::Engine::kMonitorBeat; }));
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  EXPECT_FALSE(e.health().running);
}

TEST(Monitor, ExitEscalationEndsTheProcessWithItsStatus) {
  // In the child: the hang is submitted again, with twice the margin, while its deadline
  // passes before it can start (with_start_margin's rule, inside one process). Exit codes
  // other than 42 say where the child gave up.
  const int status = testing_support::run_in_child([] {
    rt::EngineConfig c = small_config();
    c.monitor.stall_after = 10 * kMs;
    c.monitor.escalation = rt::Escalation::Exit;
    c.monitor.exit_code = 42;
    rt::Engine e(c);
    e.start();
    rt::Producer p = e.make_producer();
    static std::atomic<bool> started{false};
    hal::ns_t margin = testing_support::kFirstStartMargin;
    for (int attempt = 0; !started.load(); ++attempt, margin *= 2) {
      if (attempt == testing_support::kStartMarginAttempts) _exit(2);  // never started in time
      rt::TaskId id;
      const auto hang_forever = [] {
        started.store(true);
        for (;;)
          std::this_thread::sleep_for(1ms);
      };
      if (p.try_submit(hang_forever, {.deadline_in = margin}, &id) != rt::SubmitStatus::Ok) _exit(3);
      if (!eventually([&] { return started.load() || missed_before_start(e, id); })) _exit(4);
    }
    std::this_thread::sleep_for(30s);  // the monitor ends the process long before
    _exit(1);
  });
  EXPECT_EQ(status, 42);
}

// ---- delayed start ----

// The delayed-start tests ask for starts `margin` ahead and check what happens at them;
// when the test thread is preempted past a start before its submission (or cancel)
// returned, the scenario is inconclusive and runs again with twice the margin.
constexpr const char* kStartPassed = "the submissions never returned before the start they asked for";

TEST(DelayedStart, WaitsScheduledThenRunsAtItsStartTime) {
  with_start_margin(
      [](hal::ns_t margin, bool& too_late) {
        rt::Engine e(small_config());
        e.start();
        rt::Producer p = e.make_producer();
        std::atomic<hal::ns_t> ran_at{0};
        rt::TaskId id;
        const hal::ns_t start = hal::now_ns() + margin;
        ASSERT_EQ(p.try_submit([&] { ran_at.store(hal::now_ns()); }, {.start_at = start}, &id), rt::SubmitStatus::Ok);
        rt::TaskInfo i;
        ASSERT_TRUE(e.status(id, i));
        if (hal::now_ns() >= start) {
          too_late = true;
          return;
        }
        EXPECT_EQ(i.state, rt::State::Scheduled);  // read before its start
        EXPECT_EQ(ran_at.load(), 0);
        ASSERT_TRUE(eventually([&] { return ran_at.load() != 0; }));
        EXPECT_GE(ran_at.load(), start);  // never early
        ASSERT_TRUE(eventually([&] { return state_is(e, id, rt::State::Completed); }));
        rt::TaskInfo info;
        ASSERT_TRUE(e.status(id, info));
        EXPECT_EQ(info.start_at, start);
        EXPECT_GE(info.started, start);
        bool saw_scheduled = false;
        for (std::size_t k = 0; k < info.history_size; ++k)
          saw_scheduled = saw_scheduled || info.history[k].state == rt::State::Scheduled;
        EXPECT_TRUE(saw_scheduled);
        EXPECT_EQ(e.stats().scheduled, 0U);
        EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
      },
      kStartPassed);
}

TEST(DelayedStart, ReleasesInStartOrderWhateverTheSubmitOrder) {
  with_start_margin(
      [](hal::ns_t margin, bool& too_late) {
        rt::Engine e(small_config());
        e.start();
        rt::Producer p = e.make_producer();
        std::vector<int> order;
        std::atomic<int> done{0};
        const hal::ns_t base = hal::now_ns() + margin;
        for (int i : {3, 1, 4, 0, 2}) {
          ASSERT_EQ(p.try_submit(
                        [&order, &done, i] {
                          order.push_back(i);
                          done.fetch_add(1);
                        },
                        {.start_at = base + hal::ns_t{i} * 5 * kMs}),
                    rt::SubmitStatus::Ok);
        }
        const bool all_ahead = hal::now_ns() < base;  // every start still ahead: all SCHEDULED
        ASSERT_TRUE(eventually([&] { return done.load() == 5; }));
        if (!all_ahead) {
          too_late = true;
          return;
        }
        EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
        EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
      },
      kStartPassed);
}

TEST(DelayedStart, DeadlineCountsFromTheStartAndMustFollowIt) {
  with_start_margin(
      [](hal::ns_t margin, bool& too_late) {
        rt::Engine e(small_config());
        e.start();
        rt::Producer p = e.make_producer();
        rt::TaskId id;
        const hal::ns_t start = hal::now_ns() + margin;
        ASSERT_EQ(p.try_submit([] {}, {.start_at = start, .deadline_in = 10 * hal::kNsPerSec}, &id),
                  rt::SubmitStatus::Ok);
        if (hal::now_ns() >= start) {  // then it was ready at once, its deadline from then
          too_late = true;
          return;
        }
        rt::TaskInfo info;
        ASSERT_TRUE(e.status(id, info));
        EXPECT_EQ(info.deadline, start + 10 * hal::kNsPerSec);
        EXPECT_EQ(p.try_submit([] {}, {.start_at = start, .deadline_at = start - 1}), rt::SubmitStatus::Invalid);
        ASSERT_TRUE(eventually([&] { return state_is(e, id, rt::State::Completed); }));
        EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
      },
      kStartPassed);
}

// A start far away would never come during the test, and "it did not run" would hold
// whether or not cancel works. So the start is near, and the test waits until the monitor
// is provably past it: a witness due later, on the same class and the only worker, has
// run -- the monitor releases in start order and the worker takes one class in order, so
// the cancelled task, had it been released, would have run first.
TEST(DelayedStart, CancelledWhileScheduledNeverRuns) {
  with_start_margin(
      [](hal::ns_t margin, bool& too_late) {
        rt::Engine e(small_config());
        e.start();
        rt::Producer p = e.make_producer();
        std::atomic<bool> ran{false};
        std::atomic<hal::ns_t> witness_at{0};
        rt::TaskId id;
        const hal::ns_t start = hal::now_ns() + margin;
        ASSERT_EQ(p.try_submit([&] { ran.store(true); }, {.start_at = start}, &id), rt::SubmitStatus::Ok);
        const rt::CancelResult r = e.cancel(id);
        if (hal::now_ns() >= start) {  // cancel raced the release: inconclusive
          too_late = true;
          return;
        }
        ASSERT_EQ(r, rt::CancelResult::Removed);
        EXPECT_TRUE(state_is(e, id, rt::State::Cancelled));
        EXPECT_EQ(e.stats().scheduled, 0U);
        ASSERT_EQ(p.try_submit([&] { witness_at.store(hal::now_ns()); }, {.start_at = start + 10 * kMs}),
                  rt::SubmitStatus::Ok);
        ASSERT_TRUE(eventually([&] { return witness_at.load() != 0; }));
        ASSERT_GT(witness_at.load(), start);  // the clock really passed the cancelled start
        EXPECT_FALSE(ran.load()) << "a task cancelled while SCHEDULED ran at its start time";
        rt::TaskInfo info;
        ASSERT_TRUE(e.status(id, info));
        EXPECT_EQ(info.state, rt::State::Cancelled);
        EXPECT_EQ(info.reason, rt::Reason::CancelledQueued);
        EXPECT_EQ(info.started, 0);
        const rt::StopReport rep = e.stop(rt::StopMode::Drain);
        EXPECT_TRUE(rep.balanced);
        EXPECT_EQ(rep.stats.cancelled, 1U);
        EXPECT_EQ(rep.stats.completed, 1U);  // the witness only
      },
      "submit + cancel never returned before the start");
}

TEST(DelayedStart, StopCancelsWhatHasNotStartedInBothModes) {
  for (rt::StopMode mode : {rt::StopMode::Drain, rt::StopMode::Cancel}) {
    rt::Engine e(small_config());
    e.start();
    rt::Producer p = e.make_producer();
    std::atomic<int> ran{0};
    for (int i = 0; i < 10; ++i)
      ASSERT_EQ(p.try_submit([&] { ran.fetch_add(1); }, {.start_in = 3600 * hal::kNsPerSec}), rt::SubmitStatus::Ok);
    const rt::StopReport r = e.stop(mode);
    EXPECT_TRUE(r.balanced);
    EXPECT_EQ(r.stats.cancelled, 10U);
    EXPECT_EQ(r.stats.scheduled, 0U);
    EXPECT_EQ(ran.load(), 0);
  }
}

TEST(DelayedStart, FullRingDefersTheReleaseAndLosesNothing) {
  rt::EngineConfig c = small_config();
  c.ring_capacity = {4, 4, 4, 4, 4};
  rt::Engine e(c);
  e.start();
  rt::Producer p = e.make_producer();
  Blocker b;
  ASSERT_TRUE(b.hold(p));
  std::atomic<int> ran{0};
  for (int i = 0; i < 4; ++i)  // fills the NORMAL ring behind the blocker
    ASSERT_EQ(p.try_submit([&] { ran.fetch_add(1); }), rt::SubmitStatus::Ok);
  for (int i = 0; i < 6; ++i)
    ASSERT_EQ(p.try_submit([&] { ran.fetch_add(1); }, {.start_in = 2 * kMs}), rt::SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return e.stats().release_deferrals > 0; }));
  b.release();
  ASSERT_TRUE(eventually([&] { return ran.load() == 10; }));
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}
