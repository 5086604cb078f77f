// hal/notify.hpp against a stand-in for systemd's notify socket.
#include "hal/notify.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "notify_socket.hpp"

using namespace std::chrono_literals;
using testing_support::FakeNotifySocket;

namespace {

constexpr const char* kNotBuilt = "rtengine was built without libsystemd (RT_WITH_SYSTEMD=OFF or no libsystemd-dev)";

}  // namespace

TEST(Notify, OutsideAServiceManagerNothingIsSentAndAllIsOk) {
  ::unsetenv("NOTIFY_SOCKET");
  hal::Notifier n;
  EXPECT_FALSE(n.asked());
  EXPECT_FALSE(n.active());
  EXPECT_EQ(n.watchdog_interval(), 0);
  EXPECT_TRUE(n.ready().ok());
  EXPECT_TRUE(n.watchdog_ping().ok());
  EXPECT_TRUE(n.status("x").ok());
  EXPECT_TRUE(n.stopping().ok());
}

TEST(Notify, SendsEachMessageToTheSocket) {
  if (!hal::notify_built_in()) GTEST_SKIP() << kNotBuilt;
  FakeNotifySocket sock;
  ASSERT_TRUE(sock.ok());
  hal::Notifier n;
  EXPECT_TRUE(n.active());
  EXPECT_EQ(n.watchdog_interval(), 0);  // no WATCHDOG_USEC
  ASSERT_TRUE(n.ready().ok());
  ASSERT_TRUE(n.status("running\nsecond line dropped").ok());
  ASSERT_TRUE(n.watchdog_ping().ok());
  ASSERT_TRUE(n.stopping().ok());
  EXPECT_EQ(sock.next(10s).value_or(""), "READY=1");
  EXPECT_EQ(sock.next(10s).value_or(""), "STATUS=running");
  EXPECT_EQ(sock.next(10s).value_or(""), "WATCHDOG=1");
  EXPECT_EQ(sock.next(10s).value_or(""), "STOPPING=1");
}

TEST(Notify, WatchdogIntervalIsTheUnitsForThisProcessOnly) {
  if (!hal::notify_built_in()) GTEST_SKIP() << kNotBuilt;
  {
    FakeNotifySocket sock(2'500'000);
    ASSERT_TRUE(sock.ok());
    EXPECT_EQ(hal::Notifier().watchdog_interval(), 2500 * hal::kNsPerMs);
  }
  {
    // WATCHDOG_PID names another process (a parent that started us): not ours to pet.
    FakeNotifySocket sock(2'500'000, ::getppid());
    ASSERT_TRUE(sock.ok());
    EXPECT_EQ(hal::Notifier().watchdog_interval(), 0);
  }
}

TEST(Notify, AMissingSocketIsAnErrorWithTheCallsName) {
  if (!hal::notify_built_in()) GTEST_SKIP() << kNotBuilt;
  ::setenv("NOTIFY_SOCKET", "/nonexistent/rtengine-notify", 1);
  hal::Notifier n;
  const hal::Status st = n.ready();
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(st.ok());
  EXPECT_STREQ(st.op, "sd_notify");
}
