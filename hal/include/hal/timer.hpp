#pragma once
// Absolute-time timers on CLOCK_MONOTONIC behind one interface, with two backends:
// timerfd (default, everywhere) and io_uring timeouts (one io_uring_enter per wait).
// io_uring can be missing or disabled (kernel.io_uring_disabled, seccomp in containers,
// qemu-user), so it is probed and the caller falls back to timerfd.
//
// Threading contract: one thread owns a timer and is the only one to arm, disarm and
// wait on it; any thread may notify() it.
#include <cstdint>
#include <memory>
#include <string>

#include "hal/clock.hpp"
#include "hal/status.hpp"

namespace hal {

enum class TimerBackend : std::uint8_t { TimerFd, IoUring };

[[nodiscard]] const char* to_string(TimerBackend b) noexcept;

class Timer {
 public:
  virtual ~Timer() = default;
  Timer() = default;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // One expiry at the absolute time t, replacing any earlier arming.
  // RT: no allocation; at most one syscall.
  virtual Status arm_at(ns_t t) noexcept = 0;

  // Expiries at first, first + period, first + 2 period... counted from `first`, never
  // from the moment of a wake-up, so the series does not drift. Requires period > 0.
  // RT: no allocation; at most one syscall.
  virtual Status arm_periodic(ns_t first, ns_t period) noexcept = 0;

  // No further expiries until armed again. RT: no allocation; at most one syscall.
  virtual Status disarm() noexcept = 0;

  // Blocks until an expiry or a notify(). `expirations` is the number of expiries since
  // the last wait (more than one means the owner overran), or 0 when only notified.
  // RT: no allocation; blocks in one or two syscalls.
  virtual Status wait(std::uint64_t& expirations) noexcept = 0;

  // Wakes a blocked or the next wait() from any thread. RT: wait-free; one eventfd write.
  virtual Status notify() noexcept = 0;

  [[nodiscard]] virtual TimerBackend backend() const noexcept = 0;
};

struct UringSupport {
  bool usable = false;
  Status status;       // the failing call when not usable
  std::string reason;  // a sentence for doctor and for the fallback report
};

// Setup only: allocates. Sets up (and tears down) a small ring and checks the opcodes
// the timer needs, so the answer is the kernel's, not a guess from version numbers.
UringSupport probe_io_uring();

// Setup only: allocate; throw std::system_error when the backend cannot be created.
std::unique_ptr<Timer> make_timerfd_timer();
std::unique_ptr<Timer> make_uring_timer();

struct TimerChoice {
  std::unique_ptr<Timer> timer;
  TimerBackend active = TimerBackend::TimerFd;
  std::string fallback_reason;  // empty unless the preferred backend was not usable
};

// Setup only: the preferred backend, or timerfd with the reason (reported once).
// Throws std::system_error when not even timerfd can be created.
TimerChoice make_timer(TimerBackend preferred);

}  // namespace hal
