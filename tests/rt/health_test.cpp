// The engine's health rule (rt/health.hpp), the one `rtengine run` pets its watchdogs by
// and GET /health answers by, on chosen Health values and instants (no engine, no time).
#include "rt/health.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

constexpr rt::ns_t kMs = hal::kNsPerMs;
constexpr rt::ns_t kNow = 100 * hal::kNsPerSec;

// Running, no stall, a monitor that beats and beat 50 ms ago.
rt::Health healthy() {
  return rt::Health{.running = true,
                    .stalled_workers = 0,
                    .first_stalled = -1,
                    .monitor_beat = kNow - 50 * kMs,
                    .monitor_beat_every = rt::Engine::kMonitorBeat};
}

bool says(const rt::Diagnosis& d, const std::string& words) { return d.why.find(words) != std::string::npos; }

}  // namespace

TEST(Health, HealthyWhenRunningWithNoStallAndAFreshBeat) {
  const rt::Diagnosis d = rt::diagnose(healthy(), kNow);
  EXPECT_EQ(d.what, rt::Ailment::None);
  EXPECT_EQ(d.why, "");
}

TEST(Health, NotRunningComesFirst) {
  rt::Health h = healthy();
  h.running = false;
  h.stalled_workers = 1;  // a stopped engine is stopped, whatever else
  h.first_stalled = 0;
  const rt::Diagnosis d = rt::diagnose(h, kNow);
  EXPECT_EQ(d.what, rt::Ailment::NotRunning);
  EXPECT_TRUE(says(d, "not running")) << d.why;
}

TEST(Health, AStalledWorkerIsNamedWithHowManyMore) {
  rt::Health h = healthy();
  h.stalled_workers = 1;
  h.first_stalled = 3;
  rt::Diagnosis d = rt::diagnose(h, kNow);
  EXPECT_EQ(d.what, rt::Ailment::Stalled);
  EXPECT_TRUE(says(d, "worker 3 stalled: ")) << d.why;
  h.stalled_workers = 2;
  h.first_stalled = 1;
  d = rt::diagnose(h, kNow);
  EXPECT_EQ(d.what, rt::Ailment::Stalled);
  EXPECT_TRUE(says(d, "worker 1 stalled (and 1 more)")) << d.why;
}

TEST(Health, TheMonitorIsStuckOnlyPastKMonitorStaleAndOnlyWhenItBeats) {
  rt::Health h = healthy();
  h.monitor_beat = kNow - rt::kMonitorStale;
  EXPECT_EQ(rt::diagnose(h, kNow).what, rt::Ailment::None);  // at the limit: still alive
  h.monitor_beat = kNow - rt::kMonitorStale - 1;
  const rt::Diagnosis d = rt::diagnose(h, kNow);
  EXPECT_EQ(d.what, rt::Ailment::MonitorStuck);
  EXPECT_TRUE(says(d, "monitor is stuck: no beat for 1000 ms")) << d.why;
  h.monitor_beat = 0;  // never beat
  const rt::Diagnosis never = rt::diagnose(h, kNow);
  EXPECT_EQ(never.what, rt::Ailment::MonitorStuck);
  EXPECT_TRUE(says(never, "monitor is stuck: it never beat")) << never.why;
  h.monitor_beat_every = 0;  // no beat configured: an old beat (or none) is an idle monitor
  EXPECT_EQ(rt::diagnose(h, kNow).what, rt::Ailment::None);
  h.monitor_beat = kNow - rt::kMonitorStale - 1;
  EXPECT_EQ(rt::diagnose(h, kNow).what, rt::Ailment::None);
}
