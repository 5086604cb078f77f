// hal/notify.hpp against a stand-in for systemd's notify socket.
#include "hal/notify.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "hal/report.hpp"
#include "notify_socket.hpp"

using namespace std::chrono_literals;
using testing_support::FakeNotifySocket;

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
  if (!hal::notify_built_in())
    GTEST_SKIP() << "rtengine was built without libsystemd (RT_WITH_SYSTEMD=OFF or no libsystemd-dev)";
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
  if (!hal::notify_built_in())
    GTEST_SKIP() << "rtengine was built without libsystemd (RT_WITH_SYSTEMD=OFF or no libsystemd-dev)";
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
  if (!hal::notify_built_in())
    GTEST_SKIP() << "rtengine was built without libsystemd (RT_WITH_SYSTEMD=OFF or no libsystemd-dev)";
  ::setenv("NOTIFY_SOCKET", "/nonexistent/rtengine-notify", 1);
  hal::Notifier n;
  const hal::Status st = n.ready();
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(st.ok());
  EXPECT_STREQ(st.op, "sd_notify");
}

TEST(Notify, BuiltWithoutLibsystemdSaysSoOnceWhenSystemdWaits) {
  if (hal::notify_built_in()) GTEST_SKIP() << "built with libsystemd: there is nothing to say";
  static std::vector<std::string> lines;
  lines.clear();
  hal::reset_reports();
  const hal::ReportSink before = hal::set_report_sink([](std::string_view l) { lines.emplace_back(l); });
  FakeNotifySocket sock;
  ASSERT_TRUE(sock.ok());
  hal::Notifier a;
  hal::Notifier b;
  (void)hal::set_report_sink(before);
  EXPECT_TRUE(a.asked());
  EXPECT_FALSE(a.active());
  EXPECT_TRUE(a.ready().ok());
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_NE(lines[0].find("built without libsystemd"), std::string::npos) << lines[0];
  EXPECT_EQ(sock.next(200ms), std::nullopt);  // nothing reaches systemd
}
