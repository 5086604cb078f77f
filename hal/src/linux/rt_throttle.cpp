#include "hal/rt_throttle.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <utility>

namespace hal {

namespace {
// One write(2), so a refusal (EACCES, EPERM, EINVAL) comes back as its errno; an ofstream
// would only say that it failed.
Status write_value(const char* path, const std::string& text) {
  const int fd = ::open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return errno_status("open(sched_rt_runtime_us)");
  const ssize_t n = ::write(fd, text.data(), text.size());
  const Status s = n == static_cast<ssize_t>(text.size()) ? Status{} : errno_status("write(sched_rt_runtime_us)");
  ::close(fd);
  return s;
}

// The restorer, in a child of its own: it waits until the owner's end of the pipe closes
// -- the owner's destructor, or the owner's death of any kind (a second Ctrl-C, SIGKILL,
// a crash) -- and writes `back` to `path` if it still reads -1 (nobody else changed it
// meanwhile). Async-signal-safe calls only: the owner may have other threads.
[[noreturn]] void restorer(int pipe_in, const char* path, const char* back, std::size_t back_len) {
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE})
    (void)::signal(sig, SIG_IGN);  // a Ctrl-C reaches the whole process group
  char c = 0;
  while (::read(pipe_in, &c, 1) != 0 && errno == EINTR) {
  }
  char now[32] = {};
  if (const int fd = ::open(path, O_RDONLY | O_CLOEXEC); fd >= 0) {
    (void)::read(fd, now, sizeof now - 1);
    ::close(fd);
  }
  if (std::strncmp(now, "-1", 2) == 0) {
    if (const int fd = ::open(path, O_WRONLY | O_TRUNC | O_CLOEXEC); fd >= 0) {
      (void)::write(fd, back, back_len);
      ::close(fd);
    }
  }
  ::_exit(0);
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
    errno = std::ifstream(path_) ? EINVAL : ENOENT;  // not an integer, or not there
    status_ = errno_status("read(sched_rt_runtime_us)");
    return;
  }
  if (*found_ == -1) return;  // nothing to lift
  const std::string back = std::to_string(*found_) + "\n";
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    status_ = errno_status("pipe2");
    return;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    status_ = errno_status("fork");
    ::close(fds[0]);
    ::close(fds[1]);
    return;
  }
  if (pid == 0) {
    ::close(fds[1]);
    restorer(fds[0], path_.c_str(), back.c_str(), back.size());
  }
  ::close(fds[0]);
  pipe_ = fds[1];
  restorer_ = pid;
  status_ = write_value(path_.c_str(), "-1\n");
  lifted_ = status_.ok();  // refused: the restorer finds the old value and writes nothing
}

RtThrottleLift::~RtThrottleLift() {
  if (restorer_ <= 0) return;
  ::close(pipe_);  // the restorer puts the value back now
  while (::waitpid(restorer_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace hal
