#pragma once
// `rtengine run` under a service manager (config/systemd/rtengine.service, Type=notify):
// READY=1 once set up, WATCHDOG=1 to systemd and pets to a hardware watchdog only while
// the engine is healthy, STATUS= lines, STOPPING=1 at the end. Driven from the run
// loop's thread, never an engine thread: that thread also submits the config's timed
// tasks and runs the clean stop, so a pet proves it is alive too, and a hung run loop
// gets the service restarted like a hung worker. tick() says when it is next due, and
// the loop sleeps no longer than that. Healthy is rt::diagnose's rule (rt/health.hpp), the
// one GET /health answers by. Setup-phase code throughout: it may allocate.
#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include "hal/notify.hpp"
#include "hal/watchdog.hpp"
#include "rt/engine.hpp"
#include "rt/health.hpp"
#include "rtconfig/config.hpp"

namespace rt {
class Logger;
}

namespace rt::cli {

// Whether this configuration pets a watchdog (systemd asked for one and [service] watchdog,
// or a hardware watchdog is set): then the monitor must beat (MonitorConfig::beat).
// Setup only: reads the environment.
[[nodiscard]] bool wants_monitor_beat(const config::ServiceSettings& s);
// A device whose driver does not say its timeout (a plain file standing in for it) is
// petted this often.
inline constexpr ns_t kDevicePetDefault = hal::kNsPerSec;
inline constexpr ns_t kNotDue = std::numeric_limits<ns_t>::max();
// While unhealthy, health is checked again this often (not every WatchdogSec/2): a moment's
// stall must not let the next pet come a whole WatchdogSec after the last one, when
// systemd's timer would win the race.
inline constexpr ns_t kUnhealthyRecheck = Engine::kMonitorBeat;

// How often health is checked and the watchdogs petted: half of the shortest timeout among
// those in use (systemd's WatchdogSec=, 0 none; the device's, kDevicePetDefault * 2 when it
// cannot say); kNotDue when neither is.
[[nodiscard]] ns_t pet_interval(ns_t systemd_watchdog, bool device_open, ns_t device_timeout) noexcept;

class Service {
 public:
  using Probe = std::function<Health()>;

  // Reads the notify environment (hal::Notifier). `probe` is the engine's health (tests
  // hand in their own); `log` may be null.
  Service(const config::ServiceSettings& s, Probe probe, Logger* log = nullptr);
  // Without close_cleanly the hardware watchdog stays armed (hal::WatchdogDevice).
  ~Service() = default;
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Before anything runs (before a journaled task runs again, whose journal a failed start
  // would not rewrite): throws std::system_error naming the hardware watchdog when it is set
  // and this process cannot open it for writing. Does not open it (that arms it).
  void preflight() const;
  // Set-up is done: opens the hardware watchdog (throws std::system_error naming it when it
  // cannot), sends READY=1 and STATUS=`status`, and checks health and pets at once.
  void ready(const std::string& status, ns_t now = hal::now_ns());
  // Each time round the run loop: when due, checks health and pets both watchdogs if it is
  // good; a change of health is logged and sent as STATUS=. Returns when it is next due.
  ns_t tick(ns_t now);
  // STATUS=`text` (the progress line), prefixed with why while unhealthy.
  void status(const std::string& text);
  // The run ends: STOPPING=1, STATUS=`status`, and the hardware watchdog's magic close
  // (from here systemd's TimeoutStopSec= guards the stop).
  void stopping(const std::string& status);

  [[nodiscard]] bool healthy() const noexcept { return state_.what == Ailment::None; }
  [[nodiscard]] const Diagnosis& diagnosis() const noexcept { return state_; }
  [[nodiscard]] ns_t interval() const noexcept { return every_; }
  [[nodiscard]] std::uint64_t pets() const noexcept { return pets_; }
  [[nodiscard]] const hal::Notifier& notifier() const noexcept { return notify_; }

 private:
  void check_and_pet(ns_t now);
  void say(const char* event, const std::string& message, bool warn);

  config::ServiceSettings cfg_;
  Probe probe_;
  Logger* log_;
  hal::Notifier notify_;
  hal::WatchdogDevice device_;
  ns_t systemd_wd_ = 0;  // the WatchdogSec= we pet, 0 none
  ns_t every_ = kNotDue;
  ns_t next_ = kNotDue;
  Diagnosis state_;  // at the last check
  bool ping_failed_said_ = false;
  std::uint64_t pets_ = 0;
  bool ready_ = false;
};

}  // namespace rt::cli
