#include "hal/watchdog.hpp"

#include <fcntl.h>
#include <linux/watchdog.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace hal {

namespace {

Status write_byte(int fd, char c) noexcept {
  for (;;) {
    const ssize_t n = ::write(fd, &c, 1);
    if (n == 1) return ok_status();
    if (n < 0 && errno == EINTR) continue;
    return n < 0 ? errno_status("write watchdog") : Status{EIO, "write watchdog"};
  }
}

}  // namespace

WatchdogDevice::~WatchdogDevice() {
  if (fd_ >= 0) (void)::close(fd_);
}

Status WatchdogDevice::open(const std::string& path) noexcept {
  if (fd_ >= 0) return Status{EBUSY, "open watchdog"};
  // No O_CREAT: a missing device is an error, never a new file by its name.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("open watchdog");
  fd_ = fd;
  int seconds = 0;
  timeout_ = ::ioctl(fd_, WDIOC_GETTIMEOUT, &seconds) == 0 && seconds > 0 ? seconds * kNsPerSec : 0;
  return ok_status();
}

Status WatchdogDevice::pet() noexcept {
  if (fd_ < 0) return Status{EBADF, "write watchdog"};
  // Any byte but 'V' (which would arm the magic close): the API's own example writes NUL.
  return write_byte(fd_, '\0');
}

Status WatchdogDevice::close_cleanly() noexcept {
  if (fd_ < 0) return ok_status();
  const Status st = write_byte(fd_, 'V');
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0 && st.ok()) return errno_status("close watchdog");
  return st;
}

}  // namespace hal
