#pragma once
// A hardware watchdog device (/dev/watchdog; the kernel's watchdog-api.rst): once it is
// open, the machine reboots unless something is written to it within its timeout. A 'V'
// written just before close disarms it ("magic close"; a driver built with nowayout
// ignores it and keeps counting). So a process that hangs or dies with the device open
// gets the machine rebooted, and only a clean stop (close_cleanly) does not.
#include <string>

#include "hal/clock.hpp"
#include "hal/status.hpp"

namespace hal {

class WatchdogDevice {
 public:
  WatchdogDevice() = default;
  // Closes WITHOUT the magic 'V': the device stays armed. Only close_cleanly() disarms it.
  ~WatchdogDevice();
  WatchdogDevice(const WatchdogDevice&) = delete;
  WatchdogDevice& operator=(const WatchdogDevice&) = delete;

  // Setup only: opens `path` for writing (never creates it) and asks the driver for its
  // timeout (WDIOC_GETTIMEOUT; 0 when it cannot say, e.g. a plain file in a test). From
  // here on the device counts down.
  Status open(const std::string& path) noexcept;
  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
  // The driver's timeout; 0 unknown.
  [[nodiscard]] ns_t timeout() const noexcept { return timeout_; }

  // Not for RT threads: one write(2) of a NUL byte, which restarts the countdown.
  Status pet() noexcept;
  // Writes the magic 'V', then closes: the device stops counting (unless nowayout).
  Status close_cleanly() noexcept;

 private:
  int fd_ = -1;
  ns_t timeout_ = 0;
};

}  // namespace hal
