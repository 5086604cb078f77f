// F11/F12: a task's bound state is snapshotted before each run and restored, bit for
// bit, when the run is violated (exception, timeout, gate); a clean run keeps its
// changes. Each violation ends ROLLED_BACK, counted per type, with an event.
#include "rt/rollback.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <bit>
#include <stdexcept>

#include "engine_test_support.hpp"
#include "rt/engine.hpp"

using testing_support::Blocker;
using testing_support::eventually;
using testing_support::small_config;
using testing_support::state_is;

namespace {

struct Plant {
  double position = 1.5;
  double velocity = -0.25;
  std::array<std::uint32_t, 8> history{1, 2, 3, 4, 5, 6, 7, 8};
};

std::atomic<int> g_handler_calls{0};
std::atomic<rt::Reason> g_handler_reason{rt::Reason::None};
void on_rollback(void*, rt::Reason why) noexcept {
  g_handler_calls.fetch_add(1);
  g_handler_reason.store(why);
}

struct Fixture {
  rt::Engine engine;
  rt::Producer producer;
  rt::Snapshotted<Plant> plant;
  Plant original;

  explicit Fixture(rt::EngineConfig c) : engine(std::move(c)) {
    engine.start();
    producer = engine.make_producer();
    original = plant.value;
    g_handler_calls.store(0);
    g_handler_reason.store(rt::Reason::None);
  }
  // Bit for bit: the bytes, not operator== (which would let -0.0 pass for 0.0).
  bool restored() const {
    using Bytes = std::array<unsigned char, sizeof(Plant)>;
    return std::bit_cast<Bytes>(plant.value) == std::bit_cast<Bytes>(original);
  }
  // Submits `fn` with the plant bound; waits until it is COMPLETED or ROLLED_BACK (a
  // violated task passes through FAILED or TIMEOUT first: waiting for any terminal
  // state would race with its rollback).
  rt::TaskId run(auto fn, rt::SubmitOptions o = {}) {
    o.state = plant.binding(&on_rollback);
    rt::TaskId id;
    EXPECT_EQ(producer.try_submit(fn, o, &id), rt::SubmitStatus::Ok);
    EXPECT_TRUE(eventually([&] {
      rt::TaskInfo i;
      return engine.status(id, i) && (i.state == rt::State::Completed || i.state == rt::State::RolledBack) &&
             engine.stats().running == 0;
    }));
    return id;
  }
  std::size_t rolled_back_events(rt::TaskId id) {
    return testing_support::count_events(testing_support::drain_events(engine), rt::EventKind::RolledBack, id.value());
  }
};

void scribble(Plant& p) {
  p.position = 99.0;
  p.velocity = 42.0;
  p.history.fill(0xDEAD);
}

}  // namespace

TEST(Rollback, CleanRunKeepsItsChanges) {
  Fixture f(small_config());
  const rt::TaskId id = f.run([&] { scribble(f.plant.value); });
  EXPECT_TRUE(state_is(f.engine, id, rt::State::Completed));
  EXPECT_EQ(f.plant.value.position, 99.0);
  EXPECT_EQ(f.engine.stats().rolled_back, 0U);
  EXPECT_EQ(g_handler_calls.load(), 0);
}

TEST(Rollback, ExceptionRestoresTheStateBitForBit) {
  rt::EngineConfig c = small_config();
  c.task_types = {"task", "controller"};
  Fixture f(c);
  const rt::TaskId id = f.run(
      [&] {
        scribble(f.plant.value);
        throw std::runtime_error("sensor fault");
      },
      {.type = 1});
  EXPECT_TRUE(state_is(f.engine, id, rt::State::RolledBack));
  rt::TaskInfo info;
  ASSERT_TRUE(f.engine.status(id, info));
  EXPECT_EQ(info.reason, rt::Reason::Exception);
  EXPECT_TRUE(f.restored());
  const rt::Stats s = f.engine.stats();
  EXPECT_EQ(s.rolled_back, 1U);
  EXPECT_EQ(s.failed, 1U);
  ASSERT_EQ(s.rollbacks_by_type.size(), 2U);
  EXPECT_EQ(s.rollbacks_by_type[0], 0U);
  EXPECT_EQ(s.rollbacks_by_type[1], 1U);
  EXPECT_EQ(g_handler_calls.load(), 1);
  EXPECT_EQ(g_handler_reason.load(), rt::Reason::Exception);
  EXPECT_EQ(f.rolled_back_events(id), 1U);
  // The history shows the path: ... RUNNING -> FAILED -> ROLLED_BACK.
  ASSERT_GE(info.history_size, 3U);
  EXPECT_EQ(info.history[info.history_size - 2].state, rt::State::Failed);
  EXPECT_EQ(info.history[info.history_size - 1].state, rt::State::RolledBack);
}

TEST(Rollback, TimeoutRestoresTheState) {
  testing_support::with_start_margin([](hal::ns_t margin, bool& started_late) {
    Fixture f(small_config());
    const rt::TaskId id = f.run(
        [&](rt::TaskContext& ctx) {
          scribble(f.plant.value);
          while (!ctx.stop_requested()) {
          }
        },
        {.deadline_in = margin});
    rt::TaskInfo info;
    ASSERT_TRUE(f.engine.status(id, info));
    if (testing_support::missed_before_start(info)) {
      started_late = true;
      return;
    }
    EXPECT_EQ(info.state, rt::State::RolledBack);
    EXPECT_NE(info.started, 0);  // it ran and scribbled: the restore undid real damage
    EXPECT_TRUE(f.restored());
    EXPECT_EQ(f.engine.stats().timed_out, 1U);
    EXPECT_EQ(f.engine.stats().rolled_back, 1U);
    EXPECT_EQ(g_handler_reason.load(), rt::Reason::DeadlineMissed);
    EXPECT_EQ(f.rolled_back_events(id), 1U);
  });
}

TEST(Rollback, GateClosedAtStartRollsBackWithoutRunning) {
  rt::EngineConfig c = small_config();
  c.gates = {"armed"};
  Fixture f(c);
  f.engine.set_gate(0, false);
  std::atomic<bool> ran{false};
  const rt::TaskId id = f.run([&] { ran.store(true); }, {.gates = 1});
  EXPECT_FALSE(ran.load());
  EXPECT_TRUE(state_is(f.engine, id, rt::State::RolledBack));
  EXPECT_TRUE(f.restored());
  EXPECT_EQ(g_handler_calls.load(), 1);
  EXPECT_EQ(g_handler_reason.load(), rt::Reason::GateViolation);
  EXPECT_EQ(f.engine.stats().gate_violations, 1U);
}

TEST(Rollback, GateClosedWhileRunningDiscardsTheRunsOutput) {
  rt::EngineConfig c = small_config();
  c.gates = {"armed"};
  Fixture f(c);
  const rt::TaskId id = f.run(
      [&] {
        scribble(f.plant.value);
        f.engine.set_gate(0, false);  // the interlock drops while the task computes
      },
      {.gates = 1});
  EXPECT_TRUE(state_is(f.engine, id, rt::State::RolledBack));
  EXPECT_TRUE(f.restored());
  EXPECT_EQ(g_handler_reason.load(), rt::Reason::GateViolation);
}

TEST(Rollback, CustomSnapshotFunctionsAreUsed) {
  // A state that is not copied bit for bit: only `kept` is part of the snapshot.
  struct Odd {
    int kept = 7;
    int scratch = 0;
  };
  static Odd odd;
  static int saved = 0;
  static std::atomic<int> snaps{0}, restores{0};
  odd = Odd{};
  rt::StateBinding b{.state = &odd,
                     .saved = &saved,
                     .size = 0,
                     .snapshot =
                         [](const void* s, void* buf) noexcept {
                           *static_cast<int*>(buf) = static_cast<const Odd*>(s)->kept;
                           snaps.fetch_add(1);
                         },
                     .restore =
                         [](void* s, const void* buf) noexcept {
                           static_cast<Odd*>(s)->kept = *static_cast<const int*>(buf);
                           restores.fetch_add(1);
                         }};
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  rt::TaskId id;
  ASSERT_EQ(p.try_submit(
                [] {
                  odd.kept = 1000;
                  odd.scratch = 5;
                  throw 1;
                },
                {.state = b}, &id),
            rt::SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return state_is(e, id, rt::State::RolledBack); }));
  EXPECT_EQ(odd.kept, 7);
  EXPECT_EQ(odd.scratch, 5);
  EXPECT_EQ(snaps.load(), 1);
  EXPECT_EQ(restores.load(), 1);
}

TEST(Rollback, BindingWithoutABufferIsInvalid) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  int x = 0;
  EXPECT_EQ(p.try_submit([] {}, {.state = rt::StateBinding{.state = &x}}), rt::SubmitStatus::Invalid);
}
