#pragma once
// CPU topology and isolation as the kernel reports them under /sys and /proc, and the
// PM QoS request that keeps CPUs out of deep C-states. Readers take a root folder so
// tests can point them at a fake tree. All setup only.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hal/status.hpp"

namespace hal {

// Parses the kernel's CPU list syntax ("0-3,8,10-11"); empty or "(null)" is no CPUs.
// Throws std::invalid_argument naming the bad token.
std::vector<int> parse_cpu_list(std::string_view text);

// Formats CPUs back into the kernel's list syntax ("0-3,8").
std::string format_cpu_list(const std::vector<int>& cpus);

// The first line of root/rel with trailing whitespace removed; nullopt when unreadable.
std::optional<std::string> read_first_line(const std::filesystem::path& root, std::string_view rel);

struct CpuInfo {
  std::vector<int> online;
  std::vector<int> isolated;                           // isolcpus= (sysfs, or the command line on old kernels)
  std::vector<int> nohz_full;                          // nohz_full=
  std::vector<std::pair<int, std::string>> governors;  // per online CPU with cpufreq
  int smt_active = -1;                                 // 1 on, 0 off, -1 not reported
  std::string clocksource;
};

CpuInfo read_cpu_info(const std::filesystem::path& root = "/");

// Holds /dev/cpu_dma_latency open with a latency target, which keeps every CPU out of
// C-states whose exit latency exceeds it; the request ends when the object is destroyed
// (the kernel drops it when the fd closes).
class DmaLatencyRequest {
 public:
  DmaLatencyRequest() noexcept = default;
  DmaLatencyRequest(DmaLatencyRequest&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  DmaLatencyRequest& operator=(DmaLatencyRequest&& o) noexcept;
  ~DmaLatencyRequest();

  // Setup only: opens the device and writes the target in microseconds (0: stay in C0).
  Status request(std::int32_t max_latency_us, const std::filesystem::path& device = "/dev/cpu_dma_latency") noexcept;
  [[nodiscard]] bool active() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace hal
