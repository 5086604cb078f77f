#pragma once
// RT throttling (kernel.sched_rt_runtime_us): SCHED_FIFO and SCHED_RR threads may run that
// many microseconds of every sched_rt_period_us (950000 of 1000000 by default); -1 is no
// limit. A thread that spins at an RT priority (a kept-hot worker, a spin-mode loop,
// oslat) then loses its CPU for up to the remaining 50 ms of a second whenever a fair task
// wants that CPU. A benchmark of spinning contenders lifts it for its run, as RT
// benchmarking guides say to; syscheck reports it (`rt_throttling`). Setup only.
#include <cstdint>
#include <optional>
#include <string>

#include "hal/status.hpp"

namespace hal {

inline constexpr const char* kRtRuntimePath = "/proc/sys/kernel/sched_rt_runtime_us";

// The value in `path`; nullopt when it cannot be read or is not an integer.
[[nodiscard]] std::optional<std::int64_t> read_rt_runtime_us(const std::string& path = kRtRuntimePath);

// Writes -1 to `path` for as long as it lives, and back what it found when it goes (when
// it found -1 already, it writes nothing). A child process of its own does the writing
// back, when this object goes or its process dies in any way (SIGKILL, a crash, a second
// Ctrl-C), and only if `path` still reads -1: another program's change stays.
class RtThrottleLift {
 public:
  explicit RtThrottleLift(std::string path = kRtRuntimePath);
  ~RtThrottleLift();
  RtThrottleLift(const RtThrottleLift&) = delete;
  RtThrottleLift& operator=(const RtThrottleLift&) = delete;

  [[nodiscard]] bool lifted() const noexcept { return lifted_; }  // this object wrote -1
  [[nodiscard]] std::optional<std::int64_t> found() const noexcept { return found_; }
  [[nodiscard]] const Status& status() const noexcept { return status_; }  // why it could not

 private:
  std::string path_;
  std::optional<std::int64_t> found_;
  int pipe_ = -1;      // our end; closed, the restorer writes back
  int restorer_ = -1;  // its pid
  bool lifted_ = false;
  Status status_;
};

}  // namespace hal
