#pragma once
// The service manager's notification protocol (sd_notify(3)): READY=1 once set up,
// WATCHDOG=1 pets, STOPPING=1, STATUS= lines, and the watchdog interval the unit asked
// for (WatchdogSec= arrives as WATCHDOG_USEC and WATCHDOG_PID, sd_watchdog_enabled(3)).
// Through libsystemd when the build found it (HAL_HAVE_SYSTEMD); without it nothing is
// sent and a process that systemd waits on says so once. Not for RT threads: each
// message is one sendmsg() on an AF_UNIX datagram socket (NOTIFY_SOCKET).
#include <string_view>

#include "hal/clock.hpp"
#include "hal/status.hpp"

namespace hal {

// Whether this build can notify systemd (it links libsystemd).
[[nodiscard]] bool notify_built_in() noexcept;

class Notifier {
 public:
  // Setup only: reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (left in the
  // environment). Built without libsystemd while NOTIFY_SOCKET is set: reported once
  // (report.hpp), since systemd then waits for a READY=1 that never comes.
  Notifier();

  // NOTIFY_SOCKET is set and this build can write to it.
  [[nodiscard]] bool active() const noexcept { return active_; }
  // NOTIFY_SOCKET is set, whatever this build can do.
  [[nodiscard]] bool asked() const noexcept { return asked_; }
  // The unit's WatchdogSec= for this process; 0: no watchdog was asked for (or not active).
  [[nodiscard]] ns_t watchdog_interval() const noexcept { return watchdog_; }

  // One message each; ok and nothing sent when not active(). Not for RT threads: a syscall.
  Status ready() noexcept;
  Status watchdog_ping() noexcept;
  Status stopping() noexcept;
  // "STATUS=<text>", one line (a newline in `text` ends it). Allocates.
  Status status(std::string_view text);

 private:
  Status send(const char* message) noexcept;
  bool asked_ = false;
  bool active_ = false;
  ns_t watchdog_ = 0;
};

}  // namespace hal
