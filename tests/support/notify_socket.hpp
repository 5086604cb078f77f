#pragma once
// A stand-in for systemd's notify socket: an AF_UNIX datagram socket bound in a temporary
// folder, with NOTIFY_SOCKET (and, when asked, WATCHDOG_USEC and WATCHDOG_PID) set in the
// test's environment for as long as it lives. next() reads one message with a timeout.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

namespace testing_support {

class FakeNotifySocket {
 public:
  // `watchdog_usec` > 0: also WATCHDOG_USEC, and WATCHDOG_PID = `pid` (0: this process).
  explicit FakeNotifySocket(long long watchdog_usec = 0, pid_t pid = 0) {
    char tmpl[] = "/tmp/rtengine-notify-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return;
    dir_ = tmpl;
    path_ = (dir_ / "notify").string();
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path_.c_str());
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
      close_fd();
      return;
    }
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
    if (watchdog_usec > 0) {
      ::setenv("WATCHDOG_USEC", std::to_string(watchdog_usec).c_str(), 1);
      ::setenv("WATCHDOG_PID", std::to_string(pid != 0 ? pid : ::getpid()).c_str(), 1);
    }
  }
  ~FakeNotifySocket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    close_fd();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  FakeNotifySocket(const FakeNotifySocket&) = delete;
  FakeNotifySocket& operator=(const FakeNotifySocket&) = delete;

  [[nodiscard]] bool ok() const { return fd_ >= 0; }

  // One message, or nothing within `wait`.
  std::optional<std::string> next(std::chrono::milliseconds wait) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(wait.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>(wait.count() % 1000 * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
  }

  // Reads until a message equal to `want` (or starting with it, when `prefix`) within
  // `window`: true when it came. What came before it is skipped.
  bool wait_for(const std::string& want, std::chrono::milliseconds window, bool prefix = false) {
    const auto until = std::chrono::steady_clock::now() + window;
    for (auto now = std::chrono::steady_clock::now(); now < until; now = std::chrono::steady_clock::now()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - now) + std::chrono::milliseconds(1);
      const std::optional<std::string> m = next(left);
      if (m && (prefix ? m->rfind(want, 0) == 0 : *m == want)) return true;
    }
    return false;
  }

 private:
  void close_fd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  std::filesystem::path dir_;
  std::string path_;
  int fd_ = -1;
};

}  // namespace testing_support
