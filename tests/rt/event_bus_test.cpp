// F19: the event bus delivers the engine's events to subscribers, in time order per task,
// filtered; a failing subscriber is its own problem; the engine publishes only the kinds
// somebody wants; a bounded history answers queries; flush is a barrier.
// What a handler uses is declared before the bus: the bus's destructor (stop) may still
// deliver.
#include "rt/event_bus.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine_test_support.hpp"
#include "rt/engine.hpp"
#include "rt/rollback.hpp"

using testing_support::eventually;
using testing_support::missed_before_start;
using testing_support::small_config;
using testing_support::spin_until_stopped;
using testing_support::with_start_margin;

namespace {

// What a task's run produces (Started, Completed or Failed...): the counts below are per
// run; the producer's Submitted events are left out of them.
constexpr rt::EventMask kRunKinds = rt::kAllEvents & ~rt::event_bit(rt::EventKind::Submitted);

using rt::EventKind;

// Every event a handler was given, in delivery order, and the threads it ran on.
struct Recorder {
  mutable std::mutex mu;
  std::vector<rt::Event> events;
  std::vector<std::thread::id> threads;

  rt::EventBus::Handler handler() {
    return [this](const rt::Event& ev) {
      const std::lock_guard lk(mu);
      events.push_back(ev);
      if (std::find(threads.begin(), threads.end(), std::this_thread::get_id()) == threads.end())
        threads.push_back(std::this_thread::get_id());
    };
  }
  std::vector<rt::Event> get() const {
    const std::lock_guard lk(mu);
    return events;
  }
  std::size_t size() const {
    const std::lock_guard lk(mu);
    return events.size();
  }
};

// Submits `n` tasks; task i throws when `throws(i)`, and takes `opts(i)`. Waits for room
// when the ring or the slots are full.
template <class Throws, class Opts>
std::vector<rt::TaskId> submit_n(rt::Producer& p, int n, Throws throws, Opts opts) {
  std::vector<rt::TaskId> ids(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const bool fail = throws(i);
    auto body = [fail] {
      if (fail) throw std::runtime_error("task failed on purpose");
    };
    while (p.try_submit(body, opts(i), &ids[static_cast<std::size_t>(i)]) != rt::SubmitStatus::Ok)
      std::this_thread::yield();
  }
  return ids;
}

std::vector<rt::TaskId> submit_n(rt::Producer& p, int n, int throw_every = 0) {
  return submit_n(
      p, n, [throw_every](int i) { return throw_every > 0 && i % throw_every == throw_every - 1; },
      [](int) { return rt::SubmitOptions{}; });
}

// Until the engine has published (or dropped) `n` events: what a task publishes comes
// after its outcome is counted, so in_flight() alone would be too early.
bool published(const rt::Engine& e, int n) {
  return eventually([&] {
    const rt::Stats s = e.stats();
    return s.events_published + s.events_dropped >= static_cast<std::uint64_t>(n);
  });
}

std::map<std::uint64_t, std::vector<rt::Event>> by_task(const std::vector<rt::Event>& evs) {
  std::map<std::uint64_t, std::vector<rt::Event>> out;
  for (const auto& ev : evs) {
    if (ev.subject == rt::Subject::Task) out[ev.id].push_back(ev);
  }
  return out;
}

std::vector<EventKind> kinds_of(const std::vector<rt::Event>& evs) {
  std::vector<EventKind> k;
  k.reserve(evs.size());
  for (const auto& ev : evs)
    k.push_back(ev.kind);
  return k;
}

}  // namespace

TEST(EventBus, KindNamesRoundTripAndEveryKindHasABit) {
  for (unsigned k = 0; k <= static_cast<unsigned>(rt::kLastEventKind); ++k) {
    const auto kind = static_cast<EventKind>(k);
    EXPECT_NE(rt::to_string(kind), "unknown");
    EventKind back = EventKind::Overrun;
    ASSERT_TRUE(rt::parse_event_kind(rt::to_string(kind), back)) << rt::to_string(kind);
    EXPECT_EQ(back, kind);
    EXPECT_NE(rt::kAllEvents & rt::event_bit(kind), 0U);
  }
  EXPECT_EQ(rt::to_string(EventKind::WorkflowDeadlineMiss), "workflow_deadline_miss");
  EXPECT_EQ(rt::to_string(EventKind::CircuitHalfOpen), "circuit_half_open");
  EventKind untouched = EventKind::Started;
  EXPECT_FALSE(rt::parse_event_kind("complete", untouched));
  EXPECT_EQ(untouched, EventKind::Started);
  EXPECT_EQ(rt::kAllEvents >> (static_cast<unsigned>(rt::kLastEventKind) + 1), 0U);
}

TEST(EventBus, RefusesABadConfigAndAnEmptyHandler) {
  rt::Engine e(small_config());
  EXPECT_THROW({ rt::EventBus bad(e, {.batch = 0, .history_kinds = kRunKinds}); }, std::invalid_argument);
  EXPECT_THROW({ rt::EventBus bad(e, {.poll_interval = 0, .history_kinds = kRunKinds}); }, std::invalid_argument);
  rt::EventBus bus(e, {.history_kinds = kRunKinds});
  EXPECT_THROW(bus.subscribe({.kinds = kRunKinds}, nullptr), std::invalid_argument);
  bus.start();
  EXPECT_THROW(bus.start(), std::logic_error);
}

// Many tasks on two workers, delivered in small batches: each task's events arrive
// Started first, then its one outcome, with non-decreasing times.
TEST(EventBus, EachTasksEventsArriveInOrder) {
  rt::EngineConfig c = small_config(2);
  c.event_capacity = 8192;  // the bus must keep up: this test is about order, not overflow
  rt::Engine e(c);
  Recorder rec;
  rt::EventBus bus(e, {.batch = 32, .history_kinds = kRunKinds});
  bus.subscribe({.kinds = kRunKinds}, rec.handler());
  e.start();
  bus.start();
  rt::Producer p = e.make_producer();
  constexpr int kTasks = 2000;
  const auto ids = submit_n(p, kTasks, 10);
  ASSERT_TRUE(published(e, 2 * kTasks));
  bus.flush();
  EXPECT_EQ(e.stats().events_dropped, 0U);
  const auto tasks = by_task(rec.get());
  ASSERT_EQ(tasks.size(), static_cast<std::size_t>(kTasks));
  for (int i = 0; i < kTasks; ++i) {
    const auto it = tasks.find(ids[static_cast<std::size_t>(i)].value());
    ASSERT_NE(it, tasks.end());
    const auto& evs = it->second;
    const EventKind outcome = i % 10 == 9 ? EventKind::Failed : EventKind::Completed;
    EXPECT_EQ(kinds_of(evs), (std::vector<EventKind>{EventKind::Started, outcome})) << "task " << i;
    EXPECT_LE(evs.front().at, evs.back().at);
  }
  const rt::EventBusStats s = bus.stats();
  EXPECT_EQ(s.polled, 2U * kTasks);
  EXPECT_EQ(s.delivered, 2U * kTasks);
  EXPECT_EQ(s.engine_dropped, 0U);
}

// One task's events from two threads: the worker (Started, RolledBack) and the monitor
// (DeadlineMiss, Timeout). Taken in one batch, they come out in time order, whatever
// order the engine's ring gave them in.
TEST(EventBus, OneBatchIsSortedByTimeAcrossPublishingThreads) {
  with_start_margin([](hal::ns_t margin, bool& started_late) {
    rt::Snapshotted<int> plant;  // before the engine: a task bound to it may still run at its end
    std::atomic<bool> saw_stop{false};
    rt::Engine e(small_config());
    Recorder rec;
    rt::EventBus bus(e, {.history_kinds = kRunKinds});  // not started: flush drains on this thread, in one batch
    bus.subscribe({.kinds = kRunKinds}, rec.handler());
    e.start();
    rt::Producer p = e.make_producer();
    rt::TaskId id;
    ASSERT_EQ(p.try_submit(spin_until_stopped(saw_stop), {.deadline_in = margin, .state = plant.binding()}, &id),
              rt::SubmitStatus::Ok);
    ASSERT_TRUE(eventually([&] { return saw_stop.load() || missed_before_start(e, id); }));
    if (!saw_stop.load()) {
      started_late = true;
      return;
    }
    ASSERT_TRUE(published(e, 4));
    bus.flush();
    const auto evs = rec.get();
    EXPECT_EQ(kinds_of(evs), (std::vector<EventKind>{EventKind::Started, EventKind::DeadlineMiss, EventKind::Timeout,
                                                     EventKind::RolledBack}));
    EXPECT_TRUE(std::is_sorted(evs.begin(), evs.end(), [](const auto& a, const auto& b) { return a.at < b.at; }));
    EXPECT_EQ(rec.threads, std::vector<std::thread::id>{std::this_thread::get_id()});
  });
}

// A kind filter, a type filter and a workflow filter each get exactly the events that
// match, in the order everything was delivered in.
TEST(EventBus, FiltersDeliverExactlyTheMatchingEvents) {
  rt::EngineConfig c = small_config(2);
  c.task_types = {"a", "b"};
  c.event_capacity = 4096;
  rt::Engine e(c);
  Recorder all, completed, type_b, workflow7, failed_b;
  rt::EventBus bus(e, {.history_kinds = kRunKinds});
  bus.subscribe({.kinds = kRunKinds}, all.handler());
  bus.subscribe({.kinds = rt::event_bit(EventKind::Completed)}, completed.handler());
  bus.subscribe({.kinds = kRunKinds, .type = 1}, type_b.handler());
  bus.subscribe({.kinds = kRunKinds, .workflow = 7}, workflow7.handler());
  bus.subscribe({.kinds = rt::event_bit(EventKind::Failed), .type = 1}, failed_b.handler());
  e.start();
  bus.start();
  rt::Producer p = e.make_producer();
  constexpr int kTasks = 600;
  submit_n(
      p, kTasks, [](int i) { return i % 7 == 0; },
      [](int i) {
        return rt::SubmitOptions{.type = static_cast<rt::TypeId>(i % 2), .workflow = i % 3 == 0 ? 7U : 0U};
      });
  ASSERT_TRUE(published(e, 2 * kTasks));
  bus.flush();
  EXPECT_EQ(e.stats().events_dropped, 0U);
  const auto everything = all.get();
  ASSERT_EQ(everything.size(), 2U * kTasks);
  auto expect_subset = [&](const Recorder& r, auto pred, std::size_t want) {
    std::vector<rt::Event> expected;
    std::copy_if(everything.begin(), everything.end(), std::back_inserter(expected), pred);
    const auto got = r.get();
    ASSERT_EQ(got.size(), expected.size());
    EXPECT_EQ(got.size(), want);
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].id, expected[i].id);
      EXPECT_EQ(got[i].kind, expected[i].kind);
    }
  };
  // Of 600 tasks: 86 throw (i % 7 == 0), 300 are of type b, 200 in workflow 7.
  expect_subset(
      completed, [](const rt::Event& ev) { return ev.kind == EventKind::Completed; }, 600U - 86U);
  expect_subset(
      type_b, [](const rt::Event& ev) { return ev.type == 1; }, 600U);
  expect_subset(
      workflow7, [](const rt::Event& ev) { return ev.workflow == 7; }, 400U);
  // i odd and i % 7 == 0: 7, 21, ..., 595: 43 tasks.
  expect_subset(
      failed_b, [](const rt::Event& ev) { return ev.kind == EventKind::Failed && ev.type == 1; }, 43U);
}

TEST(EventBus, AThrowingSubscriberIsCountedAndIsolated) {
  rt::EngineConfig c = small_config();
  c.event_capacity = 4096;
  rt::Engine e(c);
  Recorder before, after;
  std::atomic<int> calls{0};
  rt::EventBus bus(e, {.history_kinds = kRunKinds});
  bus.subscribe({.kinds = kRunKinds}, before.handler());
  const int bad = bus.subscribe({.kinds = kRunKinds}, [&calls](const rt::Event&) {
    calls.fetch_add(1);
    throw std::runtime_error("subscriber failed");
  });
  const int worse = bus.subscribe({.kinds = rt::event_bit(EventKind::Completed)}, [](const rt::Event&) { throw 42; });
  bus.subscribe({.kinds = kRunKinds}, after.handler());
  e.start();
  bus.start();
  rt::Producer p = e.make_producer();
  constexpr int kTasks = 300;
  submit_n(p, kTasks);
  ASSERT_TRUE(published(e, 2 * kTasks));
  bus.flush();
  EXPECT_EQ(before.size(), 2U * kTasks);
  EXPECT_EQ(after.size(), 2U * kTasks);
  const rt::EventBusStats s = bus.stats();
  ASSERT_EQ(s.subscribers.size(), 4U);
  for (const auto& sub : s.subscribers) {
    if (sub.id == bad) {
      EXPECT_EQ(sub.delivered, 2U * kTasks);
      EXPECT_EQ(sub.errors, static_cast<std::uint64_t>(calls.load()));
      EXPECT_EQ(sub.errors, 2U * kTasks);
      EXPECT_EQ(sub.last_error, "subscriber failed");
    } else if (sub.id == worse) {
      EXPECT_EQ(sub.delivered, static_cast<std::uint64_t>(kTasks));
      EXPECT_EQ(sub.errors, static_cast<std::uint64_t>(kTasks));
      EXPECT_EQ(sub.last_error, "unknown exception");
    } else {
      EXPECT_EQ(sub.delivered, 2U * kTasks);
      EXPECT_EQ(sub.errors, 0U);
    }
  }
  EXPECT_EQ(s.subscriber_errors, 3U * kTasks);
  EXPECT_EQ(s.delivered, 2U * kTasks * 3 + kTasks);
  // The dispatcher goes on.
  submit_n(p, 10);
  ASSERT_TRUE(published(e, 2 * kTasks + 20));
  bus.flush();
  EXPECT_EQ(after.size(), 2U * kTasks + 20);
}

// Nobody polls while the tasks run: the engine's small ring overflows, publishing never
// waits, and the bus (started late) reports the engine's count of what it dropped.
TEST(EventBus, EngineOverflowIsCountedAndNeverBlocksTheTasks) {
  rt::EngineConfig c = small_config();
  c.event_capacity = 16;
  rt::Engine e(c);
  Recorder rec;
  rt::EventBus bus(e, {.history_kinds = kRunKinds});
  bus.subscribe({.kinds = kRunKinds}, rec.handler());
  e.start();
  rt::Producer p = e.make_producer();
  constexpr int kTasks = 100;
  submit_n(p, kTasks);
  ASSERT_TRUE(published(e, 2 * kTasks));
  EXPECT_EQ(e.in_flight(), 0U);  // every task ran to its end with the ring full
  const rt::Stats es = e.stats();
  EXPECT_EQ(es.events_published, 16U);
  EXPECT_EQ(es.events_dropped, 2U * kTasks - 16U);
  bus.start();
  bus.flush();
  const rt::EventBusStats s = bus.stats();
  EXPECT_EQ(s.engine_dropped, es.events_dropped);
  EXPECT_EQ(s.polled, 16U);
  EXPECT_EQ(rec.size(), 16U);
  // With room again, the next events get through.
  submit_n(p, 4);
  ASSERT_TRUE(published(e, 2 * kTasks + 8));
  bus.flush();
  EXPECT_EQ(rec.size(), 24U);
  EXPECT_EQ(bus.stats().engine_dropped, es.events_dropped);
}

// The engine publishes only what a subscriber or the history wants; a kind nobody wants
// is neither published nor dropped.
TEST(EventBus, TheEngineOnlyPublishesKindsSomebodyWants) {
  rt::EngineConfig c = small_config();
  c.event_capacity = 256;  // room for the 150 wanted, not for the 400 of every kind
  rt::Engine e(c);
  EXPECT_EQ(e.event_interest(), rt::kDefaultEventInterest);
  {
    Recorder rec;
    rt::EventBus bus(e, {.history_kinds = rt::event_bit(EventKind::Completed)});
    EXPECT_EQ(e.event_interest(), rt::event_bit(EventKind::Completed));
    const int id = bus.subscribe({.kinds = rt::event_bit(EventKind::Completed)}, rec.handler());
    EXPECT_EQ(e.event_interest(), rt::event_bit(EventKind::Completed));
    e.start();
    rt::Producer p = e.make_producer();
    constexpr int kTasks = 200;
    submit_n(p, kTasks, 4);  // 50 fail
    ASSERT_TRUE(eventually([&] { return e.in_flight() == 0 && e.stats().running == 0; }));
    bus.flush();
    const rt::Stats s = e.stats();
    EXPECT_EQ(s.completed, 150U);
    EXPECT_EQ(s.failed, 50U);
    // Not started, the bus took nothing before flush: the ring held every wanted event.
    EXPECT_EQ(s.events_published, 150U);
    EXPECT_EQ(s.events_dropped, 0U);
    EXPECT_EQ(bus.stats().polled, 150U);
    EXPECT_EQ(rec.size(), 150U);
    for (const auto& ev : rec.get())
      EXPECT_EQ(ev.kind, EventKind::Completed);

    const int failures = bus.subscribe({.kinds = rt::event_bit(EventKind::Failed)}, [](const rt::Event&) {});
    EXPECT_EQ(e.event_interest(), rt::event_bit(EventKind::Completed) | rt::event_bit(EventKind::Failed));
    EXPECT_TRUE(bus.unsubscribe(failures));
    EXPECT_TRUE(bus.unsubscribe(id));
    EXPECT_FALSE(bus.unsubscribe(id));
    EXPECT_EQ(e.event_interest(), rt::event_bit(EventKind::Completed));  // the history's
  }
  EXPECT_EQ(e.event_interest(), rt::kDefaultEventInterest);  // the bus gave back what it found

  rt::EventBus none(e, {.history = 0, .history_kinds = kRunKinds});
  EXPECT_EQ(e.event_interest(), 0U);
}

TEST(EventBus, RecentKeepsTheNewestAndEvictsTheOldest) {
  rt::Engine e(small_config());  // one worker: its events reach the ring in publish order
  rt::EventBus bus(e, {.history = 8, .history_kinds = kRunKinds});
  e.start();
  rt::Producer p = e.make_producer();
  constexpr int kTasks = 20;
  const auto ids = submit_n(p, kTasks);
  ASSERT_TRUE(published(e, 2 * kTasks));
  bus.flush();
  const rt::EventBusStats s = bus.stats();
  EXPECT_EQ(s.polled, 40U);
  EXPECT_EQ(s.history_evicted, 32U);

  const auto last = bus.recent();
  ASSERT_EQ(last.size(), 8U);
  for (std::size_t k = 0; k < 8; ++k) {
    const std::size_t task = kTasks - 4 + k / 2;
    EXPECT_EQ(last[k].id, ids[task].value());
    EXPECT_EQ(last[k].kind, k % 2 == 0 ? EventKind::Started : EventKind::Completed);
  }
  const auto three = bus.recent(3);
  ASSERT_EQ(three.size(), 3U);
  EXPECT_EQ(three.back().id, ids.back().value());
  EXPECT_EQ(three.back().kind, EventKind::Completed);
  EXPECT_EQ(three.front().id, ids[kTasks - 2].value());
  EXPECT_EQ(three.front().kind, EventKind::Completed);

  const auto done = bus.recent(100, 0, {.kinds = rt::event_bit(EventKind::Completed)});
  ASSERT_EQ(done.size(), 4U);
  EXPECT_EQ(done.front().id, ids[kTasks - 4].value());
  const auto since = bus.recent(100, last[6].at);
  ASSERT_GE(since.size(), 2U);
  EXPECT_EQ(since.back().id, ids.back().value());
  for (const auto& ev : since)
    EXPECT_GE(ev.at, last[6].at);
  EXPECT_TRUE(bus.recent(0).empty());

  rt::Engine e2(small_config());
  rt::EventBus no_history(e2, {.history = 0, .history_kinds = kRunKinds});
  e2.start();
  rt::Producer p2 = e2.make_producer();
  no_history.subscribe({.kinds = kRunKinds}, [](const rt::Event&) {});
  submit_n(p2, 3);
  ASSERT_TRUE(published(e2, 6));
  no_history.flush();
  EXPECT_TRUE(no_history.recent().empty());
  EXPECT_EQ(no_history.stats().polled, 6U);
}

// flush: a barrier for everything published before it, started or not; the dispatcher's
// idle sleep does not delay it, nor stop.
TEST(EventBus, FlushAndStopDeliverEverythingPublishedBefore) {
  rt::EngineConfig c = small_config();
  c.event_capacity = 4096;
  rt::Engine e(c);
  Recorder rec;
  // An idle dispatcher would sleep an hour: only flush and stop wake it.
  rt::EventBus bus(e, {.poll_interval = 3600 * hal::kNsPerSec, .history_kinds = kRunKinds});
  bus.subscribe({.kinds = kRunKinds}, rec.handler());
  e.start();
  rt::Producer p = e.make_producer();

  bus.flush();  // nothing yet, not started: returns
  submit_n(p, 50);
  ASSERT_TRUE(published(e, 100));
  EXPECT_EQ(rec.size(), 0U);
  bus.flush();  // not started: on this thread
  EXPECT_EQ(rec.size(), 100U);
  EXPECT_EQ(rec.threads, std::vector<std::thread::id>{std::this_thread::get_id()});

  bus.start();
  EXPECT_TRUE(bus.running());
  // Let the dispatcher reach its long sleep, then publish behind its back.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  submit_n(p, 50);
  ASSERT_TRUE(published(e, 200));
  auto flushed = std::async(std::launch::async, [&] { bus.flush(); });
  ASSERT_TRUE(eventually([&] { return flushed.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }));
  flushed.get();
  EXPECT_EQ(rec.size(), 200U);
  {
    const std::lock_guard lk(rec.mu);
    ASSERT_EQ(rec.threads.size(), 2U);
    EXPECT_NE(rec.threads[1], std::this_thread::get_id());
  }

  submit_n(p, 10);
  ASSERT_TRUE(published(e, 220));
  auto stopped = std::async(std::launch::async, [&] { bus.stop(); });
  ASSERT_TRUE(eventually([&] { return stopped.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }));
  stopped.get();
  EXPECT_FALSE(bus.running());
  EXPECT_EQ(rec.size(), 220U);
  bus.stop();   // stopped: nothing to do
  bus.start();  // restartable
  submit_n(p, 1);
  ASSERT_TRUE(published(e, 222));
  bus.flush();
  EXPECT_EQ(rec.size(), 222U);
}

// A handler may subscribe, unsubscribe (itself too), and query the bus; flush and stop
// from a handler would wait for themselves and throw instead (counted as its error).
TEST(EventBus, AHandlerMayCallBackIntoTheBus) {
  rt::EngineConfig c = small_config();
  c.event_capacity = 4096;
  rt::Engine e(c);
  Recorder late;
  std::atomic<int> once_calls{0};
  std::atomic<int> late_id{0};
  std::atomic<std::size_t> seen_in_history{0};
  std::atomic<int> refused{0};
  int once = 0;
  rt::EventBus bus(e, {.batch = 4, .history_kinds = kRunKinds});
  once = bus.subscribe({.kinds = kRunKinds}, [&](const rt::Event&) {
    once_calls.fetch_add(1);
    late_id.store(bus.subscribe({.kinds = kRunKinds}, late.handler()));
    EXPECT_TRUE(bus.unsubscribe(once));
    seen_in_history.store(bus.recent().size());
    EXPECT_EQ(bus.stats().subscribers.size(), 2U);
  });
  const int blocker = bus.subscribe({.kinds = rt::event_bit(EventKind::Completed)}, [&](const rt::Event&) {
    try {
      bus.flush();
    } catch (const std::logic_error&) {
      refused.fetch_add(1);
    }
    bus.stop();  // throws: this subscriber's error
  });
  e.start();
  bus.start();
  rt::Producer p = e.make_producer();
  constexpr int kTasks = 20;
  submit_n(p, kTasks);
  ASSERT_TRUE(published(e, 2 * kTasks));
  bus.flush();
  EXPECT_EQ(once_calls.load(), 1);
  EXPECT_GT(seen_in_history.load(), 0U);
  EXPECT_EQ(refused.load(), kTasks);
  EXPECT_TRUE(bus.running());
  // Added during a batch, the new subscriber gets the batches after it: at least the
  // last task's events, at most all but the first.
  EXPECT_GE(late.size(), 2U);
  EXPECT_LT(late.size(), 2U * kTasks);
  const rt::EventBusStats s = bus.stats();
  ASSERT_EQ(s.subscribers.size(), 2U);
  for (const auto& sub : s.subscribers) {
    if (sub.id == blocker) {
      EXPECT_EQ(sub.errors, static_cast<std::uint64_t>(kTasks));
      EXPECT_NE(sub.last_error.find("stop"), std::string::npos) << sub.last_error;
    } else {
      EXPECT_EQ(sub.id, late_id.load());
    }
  }
}

// Unsubscribed from another thread, a handler that is running is waited for: once
// unsubscribe returns, the handler is neither running nor called again.
TEST(EventBus, UnsubscribeWaitsForTheCallInProgress) {
  rt::EngineConfig c = small_config();
  c.event_capacity = 4096;
  rt::Engine e(c);
  std::atomic<bool> inside{false}, release{false}, running{false};
  std::atomic<int> calls{0};
  rt::EventBus bus(e, {.history_kinds = kRunKinds});
  const int id = bus.subscribe({.kinds = kRunKinds}, [&](const rt::Event&) {
    running.store(true);
    calls.fetch_add(1);
    inside.store(true);
    while (!release.load())
      std::this_thread::yield();
    running.store(false);
  });
  e.start();
  bus.start();
  rt::Producer p = e.make_producer();
  submit_n(p, 5);
  ASSERT_TRUE(eventually([&] { return inside.load(); }));
  std::atomic<bool> returned{false};
  std::thread t([&] {
    EXPECT_TRUE(bus.unsubscribe(id));
    EXPECT_FALSE(running.load());
    returned.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(returned.load());  // still inside the handler
  release.store(true);
  t.join();
  EXPECT_TRUE(returned.load());
  const int after = calls.load();
  ASSERT_TRUE(published(e, 10));
  bus.flush();
  EXPECT_EQ(calls.load(), after);  // none once unsubscribe returned (how many before depends on when it got in)
}
