// Backend-independent parts of hal/timer.hpp: naming and the fallback choice.
#include "hal/timer.hpp"

#include <system_error>

#include "hal/report.hpp"

namespace hal {

const char* to_string(TimerBackend b) noexcept {
  switch (b) {
    case TimerBackend::TimerFd:
      return "timerfd";
    case TimerBackend::IoUring:
      return "io_uring";
  }
  return "unknown";
}

TimerChoice make_timer(TimerBackend preferred) {
  TimerChoice out;
  if (preferred == TimerBackend::IoUring) {
    const UringSupport support = probe_io_uring();
    if (support.usable) {
      try {
        out.timer = make_uring_timer();
        out.active = TimerBackend::IoUring;
        return out;
      } catch (const std::system_error& e) {
        out.fallback_reason = e.what();
      }
    } else {
      out.fallback_reason = support.reason;
    }
    report_once("timer:io_uring", "io_uring timers unavailable (" + out.fallback_reason + "); using timerfd.");
  }
  out.timer = make_timerfd_timer();
  out.active = TimerBackend::TimerFd;
  return out;
}

}  // namespace hal
