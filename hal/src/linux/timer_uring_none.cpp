// Built when liburing was not found: the io_uring backend reports itself unusable and
// every caller falls back to timerfd.
#include <system_error>

#include "hal/timer.hpp"

namespace hal {

UringSupport probe_io_uring() {
  UringSupport out;
  out.status = Status{ENOSYS, "io_uring"};
  out.reason = "rtengine was built without liburing";
  return out;
}

std::unique_ptr<Timer> make_uring_timer() {
  throw std::system_error(ENOSYS, std::generic_category(), "rtengine was built without liburing");
}

}  // namespace hal
