#pragma once
// SIGINT and SIGTERM end a long command (run, bench) cleanly instead of the process, for
// as long as a SignalGuard lives; the previous handlers come back after it (tests run
// the commands in-process). A second signal ends the process (SA_RESETHAND).
#include <atomic>
#include <csignal>

namespace rt::cli {

// The signal that arrived since the guard was made, or 0.
[[nodiscard]] const std::atomic<int>& caught_signal() noexcept;

class SignalGuard {
 public:
  SignalGuard();
  ~SignalGuard();
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

}  // namespace rt::cli
