#include "hal/rt_throttle.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <utility>

namespace hal {

namespace {
// One write(2), so a refusal (EACCES, EPERM, EINVAL) comes back as its errno; an ofstream
// would only say that it failed.
Status write_value(const std::string& path, std::int64_t v) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return errno_status("open(sched_rt_runtime_us)");
  const std::string text = std::to_string(v) + "\n";
  const ssize_t n = ::write(fd, text.data(), text.size());
  const Status s = n == static_cast<ssize_t>(text.size()) ? Status{} : errno_status("write(sched_rt_runtime_us)");
  ::close(fd);
  return s;
}
}  // namespace

std::optional<std::int64_t> read_rt_runtime_us(const std::string& path) {
  std::ifstream f(path);
  std::int64_t v = 0;
  if (!(f >> v)) return std::nullopt;
  return v;
}

RtThrottleLift::RtThrottleLift(std::string path) : path_(std::move(path)), found_(read_rt_runtime_us(path_)) {
  if (!found_) {
    errno = ENOENT;
    status_ = errno_status("read(sched_rt_runtime_us)");
    return;
  }
  if (*found_ == -1) return;  // nothing to lift
  status_ = write_value(path_, -1);
  lifted_ = status_.ok();
}

RtThrottleLift::~RtThrottleLift() {
  if (lifted_) (void)write_value(path_, *found_);
}

}  // namespace hal
