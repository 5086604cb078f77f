#include "hal/clock.hpp"

#include <ctime>

// clock_gettime(CLOCK_MONOTONIC) is served by the vDSO: no syscall, no lock, no
// allocation. Redeclaring it nonblocking lets -Wfunction-effects accept now_ns().
// NOLINTNEXTLINE(readability-redundant-declaration)
extern "C" int clock_gettime(clockid_t, timespec*) noexcept HAL_NONBLOCKING;

namespace hal {

namespace {
constexpr timespec to_timespec(ns_t t) noexcept {
  return timespec{static_cast<time_t>(t / kNsPerSec), static_cast<long>(t % kNsPerSec)};
}
}  // namespace

ns_t now_ns() noexcept HAL_NONBLOCKING {
  timespec ts{};
  // CLOCK_MONOTONIC is always available on Linux >= 2.6; the call cannot fail for it.
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<ns_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

Status sleep_until(ns_t t) noexcept HAL_BLOCKING {
  if (t < 0) return Status{EINVAL, "clock_nanosleep"};
  const timespec ts = to_timespec(t);
  int rc;
  // clock_nanosleep returns the error number rather than setting errno.
  while ((rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr)) == EINTR) {
  }
  return Status{rc, rc != 0 ? "clock_nanosleep" : ""};
}

ns_t clock_resolution_ns() noexcept {
  timespec ts{};
  if (clock_getres(CLOCK_MONOTONIC, &ts) != 0) return -1;
  return static_cast<ns_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

}  // namespace hal
