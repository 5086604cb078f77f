#include "cyclictest.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <vector>

#include "hal/clock.hpp"

namespace bench_rt {

std::string cyclictest_unavailable(const std::string& program) {
  if (program.empty() || program == "none") return "turned off (RT_BENCH_CYCLICTEST)";
  const auto executable = [](const std::filesystem::path& p) { return access(p.c_str(), X_OK) == 0; };
  if (program.find('/') != std::string::npos)
    return executable(program) ? std::string() : program + " is not an executable file";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && executable(std::filesystem::path(dir) / program)) return {};
  }
  return program + " not found in PATH (Debian: apt install rt-tests)";
}

std::vector<std::string> cyclictest_args(const CyclictestSpec& s) {
  std::vector<std::string> a{s.program, "-m", "-q", "-t", "1"};
  a.insert(a.end(), {"-p", std::to_string(s.priority), "-a", std::to_string(s.cpu)});
  if (s.priority == 0) a.emplace_back("--policy=other");
  a.insert(a.end(),
           {"-i", std::to_string(s.interval_us), "-l", std::to_string(s.loops), "-h", std::to_string(s.histogram_us)});
  if (s.main_cpu >= 0) a.push_back("--mainaffinity=" + std::to_string(s.main_cpu));
  if (!s.pm_qos) a.emplace_back("--laptop");
  return a;
}

namespace {

// Nearest rank over the buckets, then the overflow.
double percentile(const std::vector<std::uint64_t>& buckets, std::uint64_t overflow, double max_us, double q) {
  std::uint64_t n = overflow;
  for (const auto c : buckets)
    n += c;
  const auto rank =
      std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q / 100.0 * static_cast<double>(n))));
  std::uint64_t seen = 0;
  for (std::size_t k = 0; k < buckets.size(); ++k) {
    seen += buckets[k];
    if (seen >= rank) return static_cast<double>(k) + 0.5;
  }
  return max_us;
}

// The last non-empty line: where cyclictest says what went wrong.
std::string last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.remove_suffix(1);
  const auto nl = text.rfind('\n');
  return std::string(nl == std::string_view::npos ? text : text.substr(nl + 1));
}

}  // namespace

CyclictestResult parse_cyclictest(std::string_view output) {
  CyclictestResult r;
  std::vector<std::uint64_t> buckets;
  std::uint64_t overflow = 0;
  double max_us = 0;
  bool histogram = false;
  std::istringstream in{std::string(output)};
  for (std::string line; std::getline(in, line);) {
    unsigned long long a = 0, b = 0;
    if (line.rfind("# Histogram Overflows:", 0) == 0) {
      overflow = std::strtoull(line.c_str() + 22, nullptr, 10);
    } else if (line.rfind("# Max Latencies:", 0) == 0) {
      max_us = std::strtod(line.c_str() + 16, nullptr);
    } else if (line.find("/dev/cpu_dma_latency set to") != std::string::npos) {
      r.pm_qos_held = true;
    } else if (line.rfind("# Histogram", 0) == 0) {
      histogram = true;
    } else if (histogram && !line.empty() && line[0] != '#' && std::sscanf(line.c_str(), "%llu %llu", &a, &b) == 2) {
      if (a >= buckets.size()) buckets.resize(a + 1);
      buckets[a] += b;
    }
  }
  for (const auto c : buckets)
    r.samples += c;
  r.samples += overflow;
  if (r.samples == 0) {
    r.error = histogram ? "an empty histogram" : "no histogram in its output (" + last_line(output) + ")";
    return r;
  }
  r.p = {percentile(buckets, overflow, max_us, 50), percentile(buckets, overflow, max_us, 99),
         percentile(buckets, overflow, max_us, 99.9)};
  return r;
}

CyclictestResult run_cyclictest(const CyclictestSpec& spec) {
  CyclictestResult r;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    r.error = std::string("pipe2: ") + std::strerror(errno);
    return r;
  }
  // Its stdout and stderr into one pipe: the histogram, or what went wrong.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  const std::vector<std::string> args = cyclictest_args(spec);
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int err = posix_spawnp(&pid, spec.program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (err != 0) {
    close(fds[0]);
    r.error = "posix_spawnp(" + spec.program + "): " + std::strerror(err);
    return r;
  }
  const hal::ns_t limit =
      hal::now_ns() + 3 * static_cast<hal::ns_t>(spec.loops) * spec.interval_us * hal::kNsPerUs + 10 * hal::kNsPerSec;
  std::string out;
  bool killed = false;
  for (;;) {
    const hal::ns_t left = limit - hal::now_ns();
    if (left <= 0) {
      (void)kill(pid, SIGKILL);
      killed = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::min<hal::ns_t>(left / hal::kNsPerMs + 1, 1000))) < 0 && errno != EINTR) break;
    if (p.revents == 0) continue;
    char buf[4096];
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;  // EOF: it exited
    }
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (killed) {
    r.error = "killed after running far longer than its " + std::to_string(spec.loops) + " loops";
    return r;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    r.error = (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                 : "killed by signal " + std::to_string(WTERMSIG(status))) +
              ": " + last_line(out);
    return r;
  }
  return parse_cyclictest(out);
}

}  // namespace bench_rt
