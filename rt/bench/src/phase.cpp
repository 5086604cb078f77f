#include "rtbench/phase.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <thread>

#include "hal/clock.hpp"

namespace rt::bench {

std::optional<std::uint64_t> parse_schedstat_runs(std::string_view line) noexcept {
  std::uint64_t v = 0;
  for (int field = 0; field < 3; ++field) {
    while (!line.empty() && line.front() == ' ')
      line.remove_prefix(1);
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
    if (ec != std::errc() || end == line.data()) return std::nullopt;
    line.remove_prefix(static_cast<std::size_t>(end - line.data()));
  }
  return v;
}

ns_t phase_offset(ns_t t, ns_t phase, ns_t period) noexcept {
  const ns_t d = (t - phase) % period;
  return d < 0 ? d + period : d;
}

namespace {

// The median of the times' signed distances from `ref` within half a period, as a phase.
ns_t median_around(const std::vector<ns_t>& wakes, ns_t ref, ns_t period) {
  std::vector<ns_t> d;
  d.reserve(wakes.size());
  for (const ns_t t : wakes) {
    ns_t x = phase_offset(t, ref, period);
    if (x >= period / 2) x -= period;
    d.push_back(x);
  }
  std::nth_element(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(d.size() / 2), d.end());
  return phase_offset(ref + d[d.size() / 2], 0, period);
}

}  // namespace

std::optional<ns_t> wake_phase(const std::vector<ns_t>& wakes, ns_t period) {
  if (wakes.size() < 8 || period <= 0) return std::nullopt;
  // Distances within half a period of a reference keep a cluster that straddles the
  // period's boundary whole, if the reference is in the cluster: a stray half a period from
  // it would cut the cluster in two and sit between the halves. So the reference is the
  // time nearest to all the others on the circle (the least sum of distances; a few dozen
  // times), and the phase the median around it.
  ns_t best = 0;
  ns_t best_sum = -1;
  for (const ns_t c : wakes) {
    ns_t sum = 0;
    for (const ns_t t : wakes) {
      const ns_t d = phase_offset(t, c, period);
      sum += std::min(d, period - d);
    }
    if (best_sum < 0 || sum < best_sum) {
      best_sum = sum;
      best = c;
    }
  }
  return median_around(wakes, phase_offset(best, 0, period), period);
}

PhaseProbe probe_phase(pid_t pid, pid_t tid, ns_t period, int wakes, ns_t timeout) {
  PhaseProbe out;
  const std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/schedstat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.why = "cannot read " + path + " (a kernel without CONFIG_SCHED_INFO?)";
    return out;
  }
  constexpr int kDropped = 2;  // the thread's start may put it on its CPU more than once
  std::vector<ns_t> times;
  times.reserve(static_cast<std::size_t>(wakes) + kDropped);
  std::array<char, 128> buf{};
  std::optional<std::uint64_t> last;
  int seen = 0;  // changes of the count, timed or not
  const ns_t until = hal::now_ns() + timeout;
  ns_t now = 0;
  ns_t looked = 0;  // the last look's time
  while (static_cast<int>(times.size()) < wakes + kDropped && seen < 4 * (wakes + kDropped) &&
         (now = hal::now_ns()) < until) {
    const ssize_t n = ::pread(fd, buf.data(), buf.size() - 1, 0);
    if (n <= 0) break;  // the thread is gone
    const auto runs = parse_schedstat_runs(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    if (!runs) break;
    // Put on its CPU once since a look just before: now is when. More than once, or after
    // a long gap (this thread was held up between two looks): when is not known, and the
    // time is left out.
    if (last && *runs == *last + 1 && now - looked < period / 16) times.push_back(now);
    if (last && *runs != *last) ++seen;
    last = runs;
    looked = now;
  }
  ::close(fd);
  out.wakes = std::max(0, static_cast<int>(times.size()) - kDropped);
  if (static_cast<int>(times.size()) > kDropped) times.erase(times.begin(), times.begin() + kDropped);
  out.phase = wake_phase(times, period);
  if (!out.phase)
    out.why = "saw " + std::to_string(out.wakes) + " wake-ups of its thread in " +
              std::to_string(timeout / hal::kNsPerMs) + " ms";
  return out;
}

namespace {

// The parent and the name in /proc/PID/stat ("PID (comm) S PPID ..."); the name may hold
// blanks and parentheses, so it runs to the last ')'.
bool parent_and_comm(const std::filesystem::path& stat, pid_t& ppid, std::string& comm) {
  std::ifstream in(stat);
  std::string line;
  if (!std::getline(in, line)) return false;
  const auto open = line.find('(');
  const auto close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open || close + 4 >= line.size()) return false;
  comm = line.substr(open + 1, close - open - 1);
  long p = 0;
  const char* s = line.data() + close + 4;  // ") S "
  const auto [end, ec] = std::from_chars(s, line.data() + line.size(), p);
  if (ec != std::errc()) return false;
  ppid = static_cast<pid_t>(p);
  return true;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

pid_t find_child(std::string_view comm, ns_t timeout, const std::atomic<bool>* gone) {
  const pid_t me = ::getpid();
  const ns_t until = hal::now_ns() + timeout;
  do {
    if (gone != nullptr && gone->load()) return 0;
    // Processes come and go while /proc is read: every step takes an error code, none throws.
    std::error_code ec;
    for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!all_digits(name)) continue;
      pid_t ppid = 0;
      std::string c;
      if (parent_and_comm(it->path() / "stat", ppid, c) && ppid == me && c == comm)
        return static_cast<pid_t>(std::stol(name));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  } while (hal::now_ns() < until);
  return 0;
}

pid_t find_second_thread(pid_t pid, ns_t timeout, const std::atomic<bool>* gone) {
  const std::filesystem::path dir = "/proc/" + std::to_string(pid) + "/task";
  const ns_t until = hal::now_ns() + timeout;
  do {
    if (gone != nullptr && gone->load()) return 0;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (all_digits(name) && std::stol(name) != pid) return static_cast<pid_t>(std::stol(name));
    }
    if (ec) return 0;  // the process is gone
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  } while (hal::now_ns() < until);
  return 0;
}

}  // namespace rt::bench
