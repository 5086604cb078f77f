// The watchdog rule of `rtengine run` (rt/cli/service.hpp): READY=1, WATCHDOG=1 only while
// the engine is healthy, the hardware watchdog's pets and magic close, STOPPING=1. The
// rule's own timing is driven with chosen instants (tick(now)), so only the test with a
// real stalled worker waits for real time, and it asserts only what happens or does not
// within long windows.
#include "service.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "cli_run.hpp"
#include "engine_test_support.hpp"
#include "notify_socket.hpp"
#include "temp_file.hpp"

using namespace std::chrono_literals;
using rt::cli::Service;
using testing_support::FakeNotifySocket;

namespace {

namespace fs = std::filesystem;
constexpr hal::ns_t kMs = hal::kNsPerMs;
constexpr hal::ns_t kSec = hal::kNsPerSec;
constexpr const char* kNotBuilt = "rtengine was built without libsystemd: nothing reaches a notify socket";

using testing_support::TempFile;

// A health the test sets: running, no stall, and a monitor beat it moves or freezes.
struct FakeHealth {
  rt::Health h{.running = true,
               .stalled_workers = 0,
               .first_stalled = -1,
               .monitor_beat = 0,
               .monitor_beat_every = rt::Engine::kMonitorBeat};
  Service::Probe probe() {
    return [this] { return h; };
  }
};

// A service on a fake systemd asking for WatchdogSec=2s (a pet every second), with a
// health the test sets; its clock starts at t0, when the monitor last beat.
struct OnFakeSystemd {
  FakeNotifySocket sock{2'000'000};
  FakeHealth fake;
  const hal::ns_t t0 = hal::now_ns();
  Service s;
  explicit OnFakeSystemd(const rt::config::ServiceSettings& st = {}) : s(st, fake.probe()) { fake.h.monitor_beat = t0; }
};

}  // namespace

TEST(ServiceRule, PetsAtHalfTheShortestTimeout) {
  EXPECT_EQ(rt::cli::pet_interval(0, false, 0), rt::cli::kNotDue);
  EXPECT_EQ(rt::cli::pet_interval(10 * kSec, false, 0), 5 * kSec);
  EXPECT_EQ(rt::cli::pet_interval(10 * kSec, true, 4 * kSec), 2 * kSec);
  EXPECT_EQ(rt::cli::pet_interval(0, true, 0), rt::cli::kDevicePetDefault);  // the driver cannot say
}

// A stuck monitor (its beat frozen) stops the pets; a beat again resumes them.
TEST(Service, AStuckMonitorStopsTheSystemdPetsUntilItBeatsAgain) {
  if (!hal::notify_built_in()) GTEST_SKIP() << kNotBuilt;
  OnFakeSystemd f;
  ASSERT_TRUE(f.sock.ok());
  auto& [sock, fake, t0, s] = f;
  s.ready("running", t0);
  EXPECT_EQ(s.interval(), kSec);
  EXPECT_EQ(sock.next(10s).value_or(""), "READY=1");
  EXPECT_EQ(sock.next(10s).value_or(""), "STATUS=running");
  EXPECT_EQ(sock.next(10s).value_or(""), "WATCHDOG=1");  // at once: healthy
  // Time as the rule sees it; the beat follows until the monitor "sticks" at t0 + 3 s.
  // Each tick 300 ms past a whole second: due (ready() ran at t0).
  const hal::ns_t due = s.tick(t0 + 500 * kMs);  // not due yet: nothing sent
  EXPECT_GT(due, t0 + 500 * kMs);
  for (hal::ns_t t = t0 + kSec; t <= t0 + 3 * kSec; t += kSec) {
    fake.h.monitor_beat = t;
    (void)s.tick(t + 300 * kMs);
    EXPECT_EQ(sock.next(10s).value_or(""), "WATCHDOG=1");
  }
  (void)s.tick(t0 + 4300 * kMs);  // the beat is 1.3 s old: more than kMonitorStale
  EXPECT_FALSE(s.healthy());
  const std::string status = sock.next(10s).value_or("");
  EXPECT_EQ(status.rfind("STATUS=UNHEALTHY", 0), 0U) << status;
  EXPECT_NE(status.find("monitor is stuck"), std::string::npos) << status;
  for (hal::ns_t t = t0 + 5 * kSec; t <= t0 + 8 * kSec; t += kSec)
    (void)s.tick(t + 300 * kMs);
  EXPECT_EQ(sock.next(300ms), std::nullopt);  // not one pet while it was stuck
  s.status("progress");
  // The words are fresh (how long), the change was said once.
  EXPECT_EQ(sock.next(10s).value_or(""),
            "STATUS=UNHEALTHY (the deadline monitor is stuck: no beat for 5300 ms): progress");
  fake.h.monitor_beat = t0 + 9 * kSec;
  (void)s.tick(t0 + 9300 * kMs);
  EXPECT_TRUE(s.healthy());
  EXPECT_EQ(sock.next(10s).value_or(""), "STATUS=healthy again");
  EXPECT_EQ(sock.next(10s).value_or(""), "WATCHDOG=1");
  s.stopping("stopping");
  EXPECT_EQ(sock.next(10s).value_or(""), "STOPPING=1");
  EXPECT_EQ(sock.next(10s).value_or(""), "STATUS=stopping");
  EXPECT_EQ(s.tick(t0 + 20 * kSec), rt::cli::kNotDue);  // stopping: no more pets
}

TEST(Service, WatchdogFalseSendsReadyButNeverPets) {
  if (!hal::notify_built_in()) GTEST_SKIP() << kNotBuilt;
  OnFakeSystemd f({.watchdog = false, .hardware_watchdog = ""});
  ASSERT_TRUE(f.sock.ok());
  auto& [sock, fake, t0, s] = f;
  s.ready("running", t0);
  EXPECT_EQ(s.tick(t0 + 5 * kSec), rt::cli::kNotDue);
  EXPECT_TRUE(sock.wait_for("READY=1", 10s));
  EXPECT_FALSE(sock.wait_for("WATCHDOG=1", 300ms));
}

// The same rule on a device: NUL bytes while healthy, none while not, 'V' at a clean stop.
TEST(Service, HardwareWatchdogIsPettedByTheSameRuleAndDisarmedAtACleanStop) {
  TempFile dev("watchdog");
  FakeHealth fake;
  const hal::ns_t t0 = hal::now_ns();
  fake.h.monitor_beat = t0;
  Service s({.watchdog = true, .hardware_watchdog = dev.path.string()}, fake.probe());
  s.ready("running", t0);                               // opens it and pets at once
  EXPECT_EQ(s.interval(), rt::cli::kDevicePetDefault);  // a plain file has no timeout to halve
  EXPECT_EQ(dev.content(), std::string(1, '\0'));
  fake.h.monitor_beat = t0 + kSec;
  (void)s.tick(t0 + 1300 * kMs);  // due: ready() ran at t0
  EXPECT_EQ(dev.content(), std::string(2, '\0'));
  fake.h.stalled_workers = 1;
  fake.h.first_stalled = 0;
  for (hal::ns_t t = t0 + 2 * kSec; t <= t0 + 4 * kSec; t += kSec) {
    fake.h.monitor_beat = t;
    (void)s.tick(t + 300 * kMs);
  }
  EXPECT_EQ(dev.content(), std::string(2, '\0'));  // a stalled worker: no pet
  fake.h.stalled_workers = 0;
  fake.h.monitor_beat = t0 + 5 * kSec;
  (void)s.tick(t0 + 5300 * kMs);
  EXPECT_EQ(dev.content(), std::string(3, '\0'));
  s.stopping("stopping");
  EXPECT_EQ(dev.content(), std::string(3, '\0') + "V");
}

// A moment's stall at a check must not cost the next pet a whole interval: systemd's timer
// runs out at WatchdogSec after the last pet, the rule's next check would come exactly then.
TEST(Service, AfterAnUnhealthyCheckHealthIsCheckedAgainSoon) {
  if (!hal::notify_built_in()) GTEST_SKIP() << kNotBuilt;
  OnFakeSystemd f;
  ASSERT_TRUE(f.sock.ok());
  auto& [sock, fake, t0, s] = f;
  s.ready("running", t0);
  EXPECT_TRUE(sock.wait_for("WATCHDOG=1", 10s));
  fake.h.stalled_workers = 1;
  fake.h.monitor_beat = t0 + kSec;
  const hal::ns_t again = s.tick(t0 + kSec);  // unhealthy at this check
  EXPECT_FALSE(s.healthy());
  EXPECT_LE(again, t0 + kSec + rt::cli::kUnhealthyRecheck);
  fake.h.stalled_workers = 0;
  (void)s.tick(again);  // the stall is over: a pet now, not at t0 + 2 s
  EXPECT_TRUE(s.healthy());
  EXPECT_TRUE(sock.wait_for("WATCHDOG=1", 10s));
  EXPECT_EQ(s.tick(again), again + kSec);  // and back to the healthy cadence
}

TEST(Service, PreflightNamesAHardwareWatchdogItCannotOpen) {
  const TempFile dev = TempFile::absent();
  FakeHealth fake;
  Service s({.watchdog = true, .hardware_watchdog = dev.path.string()}, fake.probe());
  try {
    s.preflight();
    FAIL() << "preflight() accepted a device that does not exist";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find(dev.path.string()), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dev.path));  // looked at, not created
  Service none({}, fake.probe());
  EXPECT_NO_THROW(none.preflight());  // no device configured: nothing to check
}

TEST(Service, AHardwareWatchdogLeftOpenStaysArmed) {
  TempFile dev("armed");
  FakeHealth fake;
  fake.h.monitor_beat = hal::now_ns();
  {
    Service s({.watchdog = true, .hardware_watchdog = dev.path.string()}, fake.probe());
    s.ready("running");
  }  // no stopping(): as when the process dies
  EXPECT_EQ(dev.content(), std::string(1, '\0'));
}

TEST(Service, AMissingHardwareWatchdogFailsReadyNamingIt) {
  const TempFile dev = TempFile::absent();
  FakeHealth fake;
  Service s({.watchdog = true, .hardware_watchdog = dev.path.string()}, fake.probe());
  try {
    s.ready("running");
    FAIL() << "ready() opened a device that does not exist";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find(dev.path.string()), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dev.path));
}

namespace {

// The run loop's part, on its own thread: tick, sleep until due (50 ms at most).
struct Driver {
  Service& s;
  std::atomic<bool> quit{false};
  std::thread t;
  explicit Driver(Service& svc) : s(svc) {
    t = std::thread([this] {
      while (!quit.load()) {
        const hal::ns_t now = hal::now_ns();
        (void)hal::sleep_until(std::min(s.tick(now), now + 50 * kMs));
      }
    });
  }
  ~Driver() {
    quit.store(true);
    t.join();
  }
};

}  // namespace

// The scenario on a real engine: pets while healthy, none while a worker is
// STALLED (a task that ignores its stop flag, hung past its deadline + stall_after),
// pets again once it returns.
TEST(Service, AStalledWorkerStopsThePetsAndItsRecoveryResumesThem) {
  if (!hal::notify_built_in()) GTEST_SKIP() << kNotBuilt;
  FakeNotifySocket sock(200'000);  // WatchdogSec=200ms: a pet every 100 ms
  ASSERT_TRUE(sock.ok());
  std::atomic<bool> hang{true};
  rt::EngineConfig c = testing_support::small_config(2);
  c.monitor.beat = rt::Engine::kMonitorBeat;  // as rtengine run sets it under a watchdog
  c.monitor.stall_after = 20 * kMs;
  rt::Engine e(c);
  const testing_support::SetOnExit unhang{hang, false};
  e.start();
  Service s({}, [&e] { return e.health(); });
  s.ready("running");
  {
    Driver loop(s);
    ASSERT_TRUE(sock.wait_for("READY=1", 30s));
    ASSERT_TRUE(sock.wait_for("WATCHDOG=1", 30s));
    rt::Producer p = e.make_producer();
    ASSERT_TRUE(testing_support::stall_a_worker(e, p, hang)) << "the hung task never started before its deadline";
    EXPECT_EQ(e.health().first_stalled, e.stats().workers[0].state == rt::WorkerState::Stalled ? 0 : 1);
    ASSERT_TRUE(sock.wait_for("STATUS=UNHEALTHY", 30s, true));
    // From that message on, the loop decides after it: not one pet in 20 intervals.
    EXPECT_FALSE(sock.wait_for("WATCHDOG=1", 2s));
    hang.store(false);
    EXPECT_TRUE(sock.wait_for("STATUS=healthy again", 30s));
    EXPECT_TRUE(sock.wait_for("WATCHDOG=1", 30s));
  }
  s.stopping("stopping");
  EXPECT_TRUE(sock.wait_for("STOPPING=1", 30s));
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

// `rtengine run` end to end under a stand-in systemd and a stand-in /dev/watchdog.
TEST(Service, RtengineRunIsReadyPetsBothWatchdogsAndStopsCleanly) {
  if (!hal::notify_built_in()) GTEST_SKIP() << kNotBuilt;
  FakeNotifySocket sock(400'000);  // a pet every 200 ms
  ASSERT_TRUE(sock.ok());
  TempFile dev("run_watchdog");
  TempFile cfg("run_toml");
  std::ofstream(cfg.path) << "[[engine.worker]]\npriority = 0\nclasses = \"all\"\n[service]\nhardware_watchdog = \""
                          << dev.path.string() << "\"\n";
  testing_support::CliRun r{};
  std::thread run([&] { r = testing_support::run_cli({"run", cfg.path.string(), "--duration", "2s"}); });
  const bool ready = sock.wait_for("READY=1", 60s);
  const bool pet = ready && sock.wait_for("WATCHDOG=1", 30s);
  const bool stopping = sock.wait_for("STOPPING=1", 60s);  // read on, so the run never waits on a full socket
  run.join();
  EXPECT_TRUE(ready);
  EXPECT_TRUE(pet);
  EXPECT_TRUE(stopping);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string written = dev.content();
  ASSERT_GE(written.size(), 2U);
  EXPECT_EQ(written.find_first_not_of('\0'), written.size() - 1) << "pets, then the magic 'V'";
  EXPECT_EQ(written.back(), 'V');
}
