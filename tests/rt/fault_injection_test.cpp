// R3: fault injection. A 1 kHz periodic task runs on its own worker while a victim task
// on the other worker throws, overruns its deadline x2 and x10, hangs, or meets a closed
// gate. Each case: the right terminal state, exactly one rollback, the victim's state
// restored bit for bit, an event published, and the 1 kHz task loses no release (every
// grid index runs exactly once: CatchUp turns lateness into catching up, so a release
// can only go missing if the engine loses it).
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <bit>
#include <stdexcept>
#include <string>
#include <thread>

#include "engine_test_support.hpp"
#include "rt/engine.hpp"

using namespace std::chrono_literals;
using testing_support::eventually;
using testing_support::small_config;

namespace {

constexpr hal::ns_t kMs = hal::kNsPerMs;
// Far enough out that the victim surely starts before it on a loaded machine (a task whose
// deadline passes first is never started, and the hang case needs it running).
constexpr hal::ns_t kDeadline = 25 * kMs;

struct VictimState {
  std::array<std::uint64_t, 8> words{0x0123456789ABCDEF, 1, 2, 3, 5, 8, 13, 21};
  double gain = 0.75;
};

enum class Fault { Throw, Overrun2, Overrun10, Hang, ClosedGate };

struct Case {
  Fault fault;
  rt::State state;
  rt::Reason reason;
  const char* name;
};

class FaultInjection : public ::testing::TestWithParam<Case> {};

// Busy for `d` whatever the stop flag says: an overrun that does not cooperate.
void busy(hal::ns_t d) {
  const hal::ns_t until = hal::now_ns() + d;
  while (hal::now_ns() < until) {
  }
}

}  // namespace

TEST_P(FaultInjection, VictimIsRolledBackAndTheLoopKeepsEveryRelease) {
  const Case& tc = GetParam();
  rt::EngineConfig c = small_config(2);
  c.workers[0].classes = 0;  // the control loop's worker
  c.gates = {"interlock"};
  c.task_types = {"task", "victim"};
  c.monitor.stall_after = 30 * kMs;
  rt::Engine e(c);

  // The 1 kHz loop: records which grid indices ran.
  constexpr std::size_t kMaxReleases = 1 << 16;
  static std::array<std::atomic<std::uint8_t>, kMaxReleases> ran{};
  for (auto& r : ran)
    r.store(0);
  const int loop = e.add_periodic({.name = "loop", .period = kMs, .worker = 0, .overrun = rt::Overrun::CatchUp},
                                  [](rt::TaskContext& ctx) {
                                    if (ctx.release_index() < kMaxReleases)
                                      ran[static_cast<std::size_t>(ctx.release_index())].fetch_add(1);
                                  });
  e.start();
  ASSERT_TRUE(e.start_periodic(loop));
  ASSERT_TRUE(eventually([&] { return e.periodic_stats(loop).runs >= 20; }));

  static rt::Snapshotted<VictimState> victim;
  victim.value = VictimState{};
  const VictimState before = victim.value;
  std::atomic<bool> hang{true};
  rt::SubmitOptions o{.type = 1, .deadline_in = kDeadline, .state = victim.binding()};
  if (tc.fault == Fault::ClosedGate) {
    o.gates = 1;
    e.set_gate(0, false);
  }
  auto body = [&tc, &hang] {
    victim.value.words.fill(0xBAD);  // the damage a rollback must undo
    victim.value.gain = -1;
    switch (tc.fault) {
      case Fault::Throw:
        throw std::runtime_error("injected");
      case Fault::Overrun2:
        busy(2 * kDeadline);
        break;
      case Fault::Overrun10:
        busy(10 * kDeadline);
        break;
      case Fault::Hang:
        while (hang.load())
          std::this_thread::sleep_for(200us);
        break;
      case Fault::ClosedGate:
        break;
    }
  };
  rt::Producer p = e.make_producer();
  rt::TaskId id;
  ASSERT_EQ(p.try_submit(body, o, &id), rt::SubmitStatus::Ok);
  if (tc.fault == Fault::Hang) {
    ASSERT_TRUE(eventually([&] { return e.stats().stalls == 1; }));
    hang.store(false);
  }
  ASSERT_TRUE(eventually([&] {
    rt::TaskInfo i;
    return e.status(id, i) && i.state == tc.state && e.stats().running == 0;
  }));
  rt::TaskInfo info;
  ASSERT_TRUE(e.status(id, info));
  EXPECT_EQ(info.reason, tc.reason);
  using Bytes = std::array<unsigned char, sizeof(VictimState)>;
  EXPECT_EQ(std::bit_cast<Bytes>(victim.value), std::bit_cast<Bytes>(before)) << "state not restored bit for bit";
  const rt::Stats s = e.stats();
  EXPECT_EQ(s.rolled_back, 1U);
  EXPECT_EQ(s.rollbacks_by_type[1], 1U);

  const auto evs = testing_support::drain_events(e);
  EXPECT_EQ(testing_support::count_events(evs, rt::EventKind::RolledBack, id.value()), 1U);
  EXPECT_EQ(testing_support::count_events(evs, rt::EventKind::Failed, id.value()) +
                testing_support::count_events(evs, rt::EventKind::Timeout, id.value()),
            1U);

  // Let the loop run on a little after the fault, then check every release ran once.
  const std::uint64_t after = e.periodic_stats(loop).runs + 20;
  ASSERT_TRUE(eventually([&] { return e.periodic_stats(loop).runs >= after; }));
  ASSERT_TRUE(e.stop_periodic(loop));
  ASSERT_TRUE(eventually([&] { return e.periodic_stats(loop).state == rt::PeriodicState::Stopped; }));
  const rt::PeriodicStats ls = e.periodic_stats(loop);
  EXPECT_EQ(ls.skipped, 0U);
  EXPECT_EQ(ls.releases, ls.runs);
  ASSERT_LT(ls.runs, kMaxReleases);
  for (std::size_t k = 0; k < ls.runs; ++k)
    ASSERT_EQ(ran[k].load(), 1) << "release " << k << " of the 1 kHz loop";
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

INSTANTIATE_TEST_SUITE_P(
    R3, FaultInjection,
    ::testing::Values(Case{Fault::Throw, rt::State::RolledBack, rt::Reason::Exception, "Throws"},
                      Case{Fault::Overrun2, rt::State::RolledBack, rt::Reason::DeadlineMissed, "OverrunsTwice"},
                      Case{Fault::Overrun10, rt::State::RolledBack, rt::Reason::DeadlineMissed, "OverrunsTenTimes"},
                      Case{Fault::Hang, rt::State::RolledBack, rt::Reason::DeadlineMissed, "Hangs"},
                      Case{Fault::ClosedGate, rt::State::RolledBack, rt::Reason::GateViolation, "MeetsAClosedGate"}),
    [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });
