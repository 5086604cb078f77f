#include "hal/notify.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

#include "hal/report.hpp"

#if HAL_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace hal {

bool notify_built_in() noexcept { return HAL_HAVE_SYSTEMD != 0; }

Notifier::Notifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  asked_ = socket != nullptr && *socket != '\0';
#if HAL_HAVE_SYSTEMD
  active_ = asked_;
  std::uint64_t usec = 0;
  // > 0 only when WATCHDOG_PID (if set) is this process: a child started by the service
  // does not inherit the duty to pet. 0 unset: the environment stays for sd_notify.
  if (active_ && sd_watchdog_enabled(0, &usec) > 0) watchdog_ = static_cast<ns_t>(usec) * kNsPerUs;
#else
  if (asked_)
    (void)report_once("notify-built-without",
                      "NOTIFY_SOCKET is set but rtengine was built without libsystemd: no READY=1 nor watchdog "
                      "pets are sent, so a Type=notify unit times out (rebuild with libsystemd-dev, or use "
                      "Type=simple without WatchdogSec=)");
#endif
}

Status Notifier::send(const char* message) noexcept {
  if (!active_) return ok_status();
#if HAL_HAVE_SYSTEMD
  return neg_errno_status(sd_notify(0, message), "sd_notify");
#else
  (void)message;
  return ok_status();
#endif
}

Status Notifier::ready() noexcept { return send("READY=1"); }
Status Notifier::watchdog_ping() noexcept { return send("WATCHDOG=1"); }
Status Notifier::stopping() noexcept { return send("STOPPING=1"); }

Status Notifier::status(std::string_view text) {
  if (!active_) return ok_status();
  std::string line = "STATUS=";
  line += text.substr(0, text.find('\n'));
  return send(line.c_str());
}

}  // namespace hal
