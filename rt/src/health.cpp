// The engine's health rule (rt/health.hpp).
#include "rt/health.hpp"

#include <string>

#include "hal/clock.hpp"

namespace rt {

Diagnosis diagnose(const Health& h, ns_t now) {
  if (!h.running) return {Ailment::NotRunning, "the engine is not running"};
  if (h.stalled_workers > 0)
    return {Ailment::Stalled,
            "worker " + std::to_string(h.first_stalled) + " stalled" +
                (h.stalled_workers > 1 ? " (and " + std::to_string(h.stalled_workers - 1) + " more)" : "") +
                ": a task hung past its deadline + monitor.stall_after"};
  // Without a beat an idle monitor sleeps until its next deadline: its age says nothing.
  if (h.monitor_beat_every > 0 && (h.monitor_beat <= 0 || now - h.monitor_beat > kMonitorStale))
    return {Ailment::MonitorStuck, h.monitor_beat <= 0
                                       ? std::string("the deadline monitor is stuck: it never beat")
                                       : "the deadline monitor is stuck: no beat for " +
                                             std::to_string((now - h.monitor_beat) / hal::kNsPerMs) + " ms"};
  return {};
}

}  // namespace rt
