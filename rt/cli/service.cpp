// The watchdog rule of `rtengine run` (service.hpp).
#include "service.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <system_error>

#include "rt/log.hpp"

namespace rt::cli {

bool wants_monitor_beat(const config::ServiceSettings& s) {
  return !s.hardware_watchdog.empty() || (s.watchdog && hal::Notifier().watchdog_interval() > 0);
}

ns_t pet_interval(ns_t systemd_watchdog, bool device_open, ns_t device_timeout) noexcept {
  ns_t every = kNotDue;
  if (systemd_watchdog > 0) every = systemd_watchdog / 2;
  if (device_open) every = std::min(every, device_timeout > 0 ? device_timeout / 2 : kDevicePetDefault);
  return every;
}

Service::Service(const config::ServiceSettings& s, Probe probe, Logger* log)
    : cfg_(s), probe_(std::move(probe)), log_(log) {
  const ns_t asked = notify_.watchdog_interval();
  systemd_wd_ = cfg_.watchdog ? asked : 0;
  if (asked > 0 && !cfg_.watchdog)
    say("service_watchdog_off",
        "the unit asks for a watchdog (WatchdogSec=" + std::to_string(asked / hal::kNsPerMs) +
            " ms) but [service] watchdog = false: systemd will restart the service when it runs out",
        true);
}

void Service::preflight() const {
  if (cfg_.hardware_watchdog.empty()) return;
  if (::access(cfg_.hardware_watchdog.c_str(), W_OK) != 0)
    throw std::system_error(errno, std::generic_category(),
                            "[service] hardware_watchdog " + cfg_.hardware_watchdog + ": cannot open it for writing");
}

void Service::ready(const std::string& status, ns_t now) {
  if (!cfg_.hardware_watchdog.empty()) {
    if (const hal::Status st = device_.open(cfg_.hardware_watchdog); !st.ok())
      throw std::system_error(st.err, std::generic_category(),
                              "[service] hardware_watchdog " + cfg_.hardware_watchdog + ": " + st.op);
  }
  every_ = pet_interval(systemd_wd_, device_.is_open(), device_.timeout());
  ready_ = true;
  if (const hal::Status st = notify_.ready(); !st.ok()) say("service_notify_failed", st.message(), true);
  (void)notify_.status(status);
  if (every_ != kNotDue) {
    say("service_watchdog",
        "petting " + std::string(systemd_wd_ > 0 ? "systemd's watchdog" : "") +
            (systemd_wd_ > 0 && device_.is_open() ? " and " : "") + (device_.is_open() ? cfg_.hardware_watchdog : "") +
            " every " + std::to_string(every_ / hal::kNsPerMs) + " ms while the engine is healthy",
        false);
  }
  check_and_pet(now);
}

ns_t Service::tick(ns_t now) {
  if (!ready_ || every_ == kNotDue) return kNotDue;
  if (now >= next_) check_and_pet(now);
  return next_;
}

void Service::check_and_pet(ns_t now) {
  if (every_ == kNotDue) return;
  Diagnosis d = diagnose(probe_(), now);
  next_ = now + (d.what == Ailment::None ? every_ : std::min(every_, kUnhealthyRecheck));
  // Said once per change of what is wrong; its words (how long, how many) are kept fresh
  // for the progress lines' STATUS=.
  if (d.what != state_.what) {
    if (d.what == Ailment::None) {
      say("service_healthy", "healthy again: the watchdogs are petted again", false);
      (void)notify_.status("healthy again");
    } else {
      say("service_unhealthy", d.why + ": the watchdogs are no longer petted", true);
      (void)notify_.status("UNHEALTHY, watchdog not petted: " + d.why);
    }
  }
  state_ = std::move(d);
  if (!healthy()) return;
  ++pets_;
  if (systemd_wd_ > 0) {
    // A pet that does not arrive gets the service killed: say why once, in the log.
    if (const hal::Status st = notify_.watchdog_ping(); !st.ok() && !ping_failed_said_) {
      ping_failed_said_ = true;
      say("service_watchdog_ping_failed", st.message() + ": systemd will restart the service", true);
    }
  }
  if (device_.is_open()) {
    if (const hal::Status st = device_.pet(); !st.ok()) say("service_watchdog_pet_failed", st.message(), true);
  }
}

void Service::status(const std::string& text) {
  (void)notify_.status(healthy() ? text : "UNHEALTHY (" + state_.why + "): " + text);
}

void Service::stopping(const std::string& status) {
  (void)notify_.stopping();
  (void)notify_.status(status);
  every_ = kNotDue;
  if (device_.is_open()) {
    if (const hal::Status st = device_.close_cleanly(); !st.ok())
      say("service_watchdog_close_failed", st.message() + ": the device may still reboot the machine", true);
  }
}

void Service::say(const char* event, const std::string& message, bool warn) {
  if (log_ != nullptr) {
    log_->log(warn ? LogLevel::Warn : LogLevel::Info, event, message);
  } else if (warn) {
    std::fprintf(stderr, "rtengine: %s\n", message.c_str());
  }
}

}  // namespace rt::cli
