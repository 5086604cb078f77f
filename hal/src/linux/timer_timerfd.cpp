// timerfd backend: the kernel keeps the absolute series (hrtimer_forward), and poll()
// joins it with an eventfd so notify() can wake the owner.
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <system_error>

#include "hal/timer.hpp"

namespace hal {

namespace {

constexpr timespec to_ts(ns_t t) noexcept {
  return timespec{static_cast<time_t>(t / kNsPerSec), static_cast<long>(t % kNsPerSec)};
}

class TimerFdTimer final : public Timer {
 public:
  TimerFdTimer() {
    tfd_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (tfd_ < 0) throw std::system_error(errno, std::generic_category(), "timerfd_create(CLOCK_MONOTONIC)");
    efd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd_ < 0) {
      const int e = errno;
      close(tfd_);
      throw std::system_error(e, std::generic_category(), "eventfd");
    }
  }
  ~TimerFdTimer() override {
    close(efd_);
    close(tfd_);
  }

  Status arm_at(ns_t t) noexcept override {
    // An all-zero it_value would disarm: an instant at or before the epoch is "now".
    return settime(t > 0 ? t : 1, 0);
  }

  Status arm_periodic(ns_t first, ns_t period) noexcept override {
    if (period <= 0) return Status{EINVAL, "timerfd_settime"};
    return settime(first > 0 ? first : 1, period);
  }

  Status disarm() noexcept override {
    const itimerspec spec{};
    if (timerfd_settime(tfd_, 0, &spec, nullptr) != 0) return errno_status("timerfd_settime");
    return {};
  }

  Status wait(std::uint64_t& expirations) noexcept override {
    expirations = 0;
    pollfd fds[2] = {{tfd_, POLLIN, 0}, {efd_, POLLIN, 0}};
    for (;;) {
      const int n = poll(fds, 2, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_status("poll(timerfd)");
      }
      bool woke = false;
      if (fds[1].revents & POLLIN) {
        std::uint64_t v;
        if (read(efd_, &v, sizeof v) < 0 && errno != EAGAIN) return errno_status("read(eventfd)");
        woke = true;
      }
      if (fds[0].revents & POLLIN) {
        std::uint64_t v = 0;
        const ssize_t r = read(tfd_, &v, sizeof v);
        if (r == sizeof v) {
          expirations = v;
          woke = true;
        } else if (r < 0 && errno != EAGAIN) {
          return errno_status("read(timerfd)");
        }
      }
      if (woke) return {};
    }
  }

  Status notify() noexcept override {
    const std::uint64_t one = 1;
    if (write(efd_, &one, sizeof one) < 0 && errno != EAGAIN) return errno_status("write(eventfd)");
    return {};
  }

  TimerBackend backend() const noexcept override { return TimerBackend::TimerFd; }

 private:
  Status settime(ns_t first, ns_t period) noexcept {
    const itimerspec spec{to_ts(period), to_ts(first)};
    if (timerfd_settime(tfd_, TFD_TIMER_ABSTIME, &spec, nullptr) != 0) return errno_status("timerfd_settime");
    return {};
  }

  int tfd_ = -1;
  int efd_ = -1;
};

}  // namespace

std::unique_ptr<Timer> make_timerfd_timer() { return std::make_unique<TimerFdTimer>(); }

}  // namespace hal
