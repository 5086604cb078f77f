#pragma once
// Whether the engine is healthy, by one rule that every reader of Engine::health() applies:
// `rtengine run` pets its watchdogs by it (rt/cli/service.hpp) and GET /health answers by
// it (rt/http), so a load balancer and systemd never disagree about the same engine.
// Not for RT threads: diagnose() allocates its words.
#include <cstdint>
#include <string>

#include "rt/engine.hpp"
#include "rt/stats.hpp"
#include "rt/types.hpp"

namespace rt {

// The monitor counts as alive while its beat is at most this old: ten beats, so a monitor
// preempted for a moment on a busy machine is not called dead, and a stuck one is found
// within a second, well inside any sensible WatchdogSec=.
inline constexpr ns_t kMonitorStale = 10 * Engine::kMonitorBeat;

// Healthy: running, no worker STALLED, and -- when the monitor beats
// (Health::monitor_beat_every > 0) -- its beat at most kMonitorStale old. Otherwise what is
// wrong, and why in words (which change as it lasts: how long, how many).
enum class Ailment : std::uint8_t { None, NotRunning, Stalled, MonitorStuck };
struct Diagnosis {
  Ailment what = Ailment::None;
  std::string why;  // "" when healthy
};
// `now` is CLOCK_MONOTONIC (hal::now_ns), the monitor beat's clock. Allocates.
[[nodiscard]] Diagnosis diagnose(const Health& h, ns_t now);

}  // namespace rt
